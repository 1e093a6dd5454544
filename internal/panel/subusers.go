package panel

import (
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// Subusers of an instance, under /api/client/instances/{id}/subusers. A
// granter gives no more than it holds, and changes or removes no subuser
// who holds more than it does: it could otherwise take away what it could
// never have given. Every change is recorded.

// subuserView is a subuser as the client API shows it.
type subuserView struct {
	UserID      string              `json:"userId"`
	Username    string              `json:"username"`
	Email       string              `json:"email"`
	Permissions []access.Permission `json:"permissions"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
}

func viewSubuser(sub store.Subuser) subuserView {
	return subuserView{UserID: sub.UserID, Username: sub.Username, Email: sub.Email, Permissions: sub.Permissions,
		CreatedAt: sub.CreatedAt, UpdatedAt: sub.UpdatedAt}
}

// permissions reads a list of permission names.
func (b body) permissions(name string) ([]access.Permission, error) {
	list, err := b.strings(name, "permission names")
	if err != nil {
		return nil, err
	}
	if len(list) > len(access.All) {
		return nil, fault.InvalidField(name, "must list at most %d permissions", len(access.All))
	}
	return access.ParsePermissions(list)
}

// listSubusers answers an instance's subusers.
func (s *Server) listSubusers(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := f(r)
		if err != nil {
			return err
		}
		list, err := s.store.Subusers(r.Context(), t.in.ID)
		if err != nil {
			return err
		}
		out := make([]subuserView, len(list))
		for i, sub := range list {
			out[i] = viewSubuser(sub)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// addSubuser grants permissions to a user: POST {"user": "<username or
// email>", "permissions": [...]}.
func (s *Server) addSubuser(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		name, err := b.str("user", true, 255)
		if err != nil {
			return err
		}
		perms, err := b.permissions("permissions")
		if err != nil {
			return err
		}
		t, err := f(r)
		if err != nil {
			return err
		}
		if err := access.CanGrant(t.held, perms); err != nil {
			return err
		}
		u, err := s.userByName(r, name)
		if err != nil {
			return err
		}
		if u.ID == t.in.UserID {
			return fault.InvalidField("user", "%s owns this instance and holds every permission already", name)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		sub := store.Subuser{InstanceID: t.in.ID, UserID: u.ID, Permissions: perms, CreatedAt: now, UpdatedAt: now,
			Username: u.Username, Email: u.Email}
		if err := s.store.AddSubuser(r.Context(), sub); err != nil {
			return err
		}
		s.recordSubuser(r, "instance.subuser.create", sub)
		writeJSON(w, http.StatusCreated, viewSubuser(sub))
		return nil
	}
}

// changeSubuser replaces a subuser's permissions: PUT {"permissions": [...]}.
func (s *Server) changeSubuser(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		perms, err := b.permissions("permissions")
		if err != nil {
			return err
		}
		t, sub, err := s.pathSubuser(r, f)
		if err != nil {
			return err
		}
		if err := access.CanGrant(t.held, perms); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		if err := s.store.SetSubuserPermissions(r.Context(), t.in.ID, sub.UserID, perms, now); err != nil {
			return err
		}
		sub.Permissions, sub.UpdatedAt = perms, now
		s.recordSubuser(r, "instance.subuser.update", sub)
		writeJSON(w, http.StatusOK, viewSubuser(sub))
		return nil
	}
}

// removeSubuser takes a subuser's every permission on the instance.
func (s *Server) removeSubuser(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, sub, err := s.pathSubuser(r, f)
		if err != nil {
			return err
		}
		if err := s.store.RemoveSubuser(r.Context(), t.in.ID, sub.UserID); err != nil {
			return err
		}
		sub.Permissions = nil
		s.recordSubuser(r, "instance.subuser.delete", sub)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// pathSubuser resolves the instance through f and the subuser of its path,
// which the caller must hold every permission of to change or remove it.
func (s *Server) pathSubuser(r *http.Request, f instanceFront) (target, store.Subuser, error) {
	userID, err := pathValue(r, "userId")
	if err != nil {
		return target{}, store.Subuser{}, err
	}
	t, err := f(r)
	if err != nil {
		return t, store.Subuser{}, err
	}
	list, err := s.store.Subusers(r.Context(), t.in.ID)
	if err != nil {
		return t, store.Subuser{}, err
	}
	for _, sub := range list {
		if sub.UserID != userID {
			continue
		}
		if access.CanGrant(t.held, sub.Permissions) != nil {
			return t, sub, fault.New(fault.Permission, "this subuser holds permissions you do not; you cannot change or remove it")
		}
		return t, sub, nil
	}
	return t, store.Subuser{}, fault.New(fault.NotExist, "subuser not found")
}

// userByName finds a user by username or, failing that, by email.
func (s *Server) userByName(r *http.Request, name string) (store.User, error) {
	u, err := s.store.UserByUsername(r.Context(), name)
	if fault.Is(err, fault.NotExist) && strings.Contains(name, "@") {
		u, err = s.store.UserByEmail(r.Context(), name)
	}
	if fault.Is(err, fault.NotExist) {
		return u, fault.InvalidField("user", "no user has the username or email %q", name)
	}
	return u, err
}

// recordSubuser records a change of sub, with its permissions after it.
func (s *Server) recordSubuser(r *http.Request, action string, sub store.Subuser) {
	names := make([]string, len(sub.Permissions))
	for i, p := range sub.Permissions {
		names[i] = string(p)
	}
	s.record(r, store.AuditEntry{Action: action, InstanceID: sub.InstanceID, Target: sub.UserID,
		Detail: strings.Join(names, " ")})
}
