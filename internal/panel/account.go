package panel

import (
	"context"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// The signed-in user's own account, under /api/client/account: the user,
// the password, the sessions. Two-factor, tokens and SSH keys have files
// of their own. Every handler acts on the caller's user and no other.

// accountView is the user as the user sees itself.
type accountView struct {
	userView
	TwoFactorEnabled bool `json:"twoFactorEnabled"`
}

func viewAccount(u store.User, twoFactor bool) accountView {
	return accountView{userView: viewUser(u), TwoFactorEnabled: twoFactor}
}

// sessionView is one of the user's sessions; never its cookie.
type sessionView struct {
	ID         string    `json:"id"`
	Address    string    `json:"address"`
	UserAgent  string    `json:"userAgent"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	// Current marks the session the request came with.
	Current bool `json:"current"`
}

// callerUser reads the user of the request's session or token.
func (s *Server) callerUser(r *http.Request) (store.User, error) {
	return s.store.UserByID(r.Context(), callerOf(r).UserID)
}

// callerSessionID is the id of the session the request came with, or ""
// for a token.
func callerSessionID(r *http.Request) string {
	if p := callerOf(r); p.Kind == access.Session {
		return p.CredentialID
	}
	return ""
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	u, err := s.callerUser(r)
	if err != nil {
		return err
	}
	twoFactor, err := s.twoFactorOn(r, u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAccount(u, twoFactor))
	return nil
}

// checkOwnPassword checks a password that a signed-in user types again to
// confirm a change. Wrong ones count as failed sign-ins, so that a stolen
// session cannot guess the password faster than the sign-in form could.
// The check passed, it returns the attempt still open, for a further code
// check to fail; the caller defers its end.
func (s *Server) checkOwnPassword(w http.ResponseWriter, r *http.Request, u store.User, field, password string) (*attempt, error) {
	a, err := s.beginAttempt(w, r, scopesOf(r, u.ID, ""))
	if err != nil {
		return nil, err
	}
	if !s.checkPassword(r, u.PasswordHash, password) {
		a.fail()
		return nil, &fault.Error{Kind: fault.Permission, Field: field, Msg: field + ": is not the account's password"}
	}
	return a, nil
}

// changePassword is POST /api/client/account/password {"current", "new"}.
// The user's other sessions end; the one that asked stays.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	current, err := b.password("current")
	if err != nil {
		return err
	}
	next, err := b.newPassword("new")
	if err != nil {
		return err
	}
	u, err := s.callerUser(r)
	if err != nil {
		return err
	}
	a, err := s.checkOwnPassword(w, r, u, "current", current)
	if err != nil {
		return err
	}
	defer a.end()
	err = s.store.ChangePassword(r.Context(), u.ID, secret.HashPassword(next), callerSessionID(r))
	s.forgetUser(u.ID)
	if err != nil {
		return err
	}
	s.audit(r, "account.password", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionLive reports whether a session last seen at lastSeen, expiring
// at expires, may still be used at now.
func (s *Server) sessionLive(lastSeen, expires, now time.Time) bool {
	return now.Before(expires) && now.Sub(lastSeen) < s.cfg.SessionIdle
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListSessions(r.Context(), callerOf(r).UserID)
	if err != nil {
		return err
	}
	now, current := s.now(), callerSessionID(r)
	out := []sessionView{}
	for _, se := range list {
		if s.sessionLive(se.LastSeenAt, se.ExpiresAt, now) {
			out = append(out, sessionView{ID: se.ID, Address: se.Address, UserAgent: se.UserAgent, CreatedAt: se.CreatedAt,
				LastSeenAt: se.LastSeenAt, ExpiresAt: se.ExpiresAt, Current: se.ID == current})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteOtherSessions is DELETE /api/client/account/sessions: every
// session of the user but the one that asks ends.
func (s *Server) deleteOtherSessions(w http.ResponseWriter, r *http.Request) error {
	_, err := s.store.DeleteOtherSessions(r.Context(), callerOf(r).UserID, callerSessionID(r))
	s.forgetUser(callerOf(r).UserID)
	if err != nil {
		return err
	}
	s.audit(r, "account.sessions.delete", callerOf(r).UserID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) error {
	return s.endCredential(w, r, access.Session, "account.session.delete", s.store.DeleteSession)
}

// endCredential ends the caller's own session or token {id} with del:
// this panel forgets it at once, and the change is recorded as action.
func (s *Server) endCredential(w http.ResponseWriter, r *http.Request, kind access.Kind, action string,
	del func(ctx context.Context, userID, id string) error) error {
	id := r.PathValue("id")
	err := del(r.Context(), callerOf(r).UserID, id)
	s.forgetCredential(kind, id)
	if err != nil {
		return err
	}
	s.audit(r, action, id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
