package panel

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// maxID bounds ids read from bodies and paths.
const maxID = 64

// pathID reads the {id} of the path, held to the rules of a body's id: the
// path is unescaped, so it could carry a NUL or invalid UTF-8, which
// PostgreSQL refuses as an argument with an error that would answer 500.
func pathID(r *http.Request) (string, error) { return pathValue(r, "id") }

// pathValue reads the path's wildcard name, held to pathID's rules.
func pathValue(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if len(id) > maxID || !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return "", fault.InvalidField(name, "must be at most %d bytes of printable text", maxID)
	}
	return id, nil
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) error {
	return s.responses.serve(w, "instances", s.store.Version, func() (any, error) {
		list, err := s.store.ListInstances(r.Context())
		return viewInstances(list), err
	})
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) error {
	id, err := bodyID(r, "id")
	if err != nil {
		return err
	}
	err = s.responses.serve(w, "instance\x00"+id, s.store.Version, func() (any, error) {
		in, err := s.store.InstanceByID(r.Context(), id)
		return viewInstance(in), err
	})
	if err != nil {
		return seedLookup{err}
	}
	return nil
}

func (s *Server) getUserInstances(w http.ResponseWriter, r *http.Request) error {
	userID, err := bodyID(r, "userId")
	if err != nil {
		return err
	}
	if _, err := s.store.UserByID(r.Context(), userID); err != nil {
		return seedLookup{err}
	}
	list, err := s.store.InstancesByUser(r.Context(), userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewInstances(list))
	return nil
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request) error {
	return s.setSuspended(w, r, true)
}
func (s *Server) unsuspend(w http.ResponseWriter, r *http.Request) error {
	return s.setSuspended(w, r, false)
}

// setSuspended takes the id from the path, as the original did; the seed's
// "body id" was a copy-paste of getInstance.
func (s *Server) setSuspended(w http.ResponseWriter, r *http.Request, suspended bool) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	in, err := s.store.SetSuspended(r.Context(), id, suspended)
	if err != nil {
		return seedLookup{err}
	}
	action := "instance.unsuspend"
	if suspended {
		action = "instance.suspend"
	}
	s.auditInstance(r, action, id)
	s.cfg.KickNode(in.NodeID)
	writeJSON(w, http.StatusOK, viewInstance(in))
	return nil
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request) error {
	id, err := bodyID(r, "id")
	if err != nil {
		return err
	}
	// The node is read first, to wake its worker alone; the delete itself
	// is what decides whether the instance still exists.
	in, err := s.store.InstanceByID(r.Context(), id)
	if err != nil {
		return seedLookup{err}
	}
	if err := s.store.DeleteInstance(r.Context(), id); err != nil {
		return seedLookup{err}
	}
	s.auditInstance(r, "instance.delete", id)
	s.cfg.KickNode(in.NodeID)
	writeJSON(w, s.cfg.Mode.status(instanceDeleted), messageView{"The instance has been successfully deleted."})
	return nil
}

// bodyID reads the id in the body's field.
func bodyID(r *http.Request, field string) (string, error) {
	b, err := decodeBody(r)
	if err != nil {
		return "", err
	}
	return b.str(field, true, maxID)
}

// pathInstance loads the instance named by the path.
func (s *Server) pathInstance(r *http.Request) (store.Instance, error) {
	id, err := pathID(r)
	if err != nil {
		return store.Instance{}, err
	}
	return s.store.InstanceByID(r.Context(), id)
}
