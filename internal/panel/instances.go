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
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) > maxID || !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return "", fault.InvalidField("id", "must be at most %d bytes of printable text", maxID)
	}
	return id, nil
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) {
	err := s.responses.serve(w, "instances", s.store.Version, func() (any, error) {
		list, err := s.store.ListInstances(r.Context())
		return viewInstances(list), err
	})
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	id, ok := s.bodyID(w, r, "id")
	if !ok {
		return
	}
	err := s.responses.serve(w, "instance\x00"+id, s.store.Version, func() (any, error) {
		in, err := s.store.InstanceByID(r.Context(), id)
		return viewInstance(in), err
	})
	if err != nil {
		s.writeSeedError(w, r, err)
	}
}

func (s *Server) getUserInstances(w http.ResponseWriter, r *http.Request) {
	userID, ok := s.bodyID(w, r, "userId")
	if !ok {
		return
	}
	if _, err := s.store.UserByID(r.Context(), userID); err != nil {
		s.writeSeedError(w, r, err)
		return
	}
	list, err := s.store.InstancesByUser(r.Context(), userID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewInstances(list))
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request)   { s.setSuspended(w, r, true) }
func (s *Server) unsuspend(w http.ResponseWriter, r *http.Request) { s.setSuspended(w, r, false) }

// setSuspended takes the id from the path, as the original did; the seed's
// "body id" was a copy-paste of getInstance.
func (s *Server) setSuspended(w http.ResponseWriter, r *http.Request, suspended bool) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := s.store.SetSuspended(r.Context(), id, suspended)
	if err != nil {
		s.writeSeedError(w, r, err)
		return
	}
	action := "instance.unsuspend"
	if suspended {
		action = "instance.suspend"
	}
	s.audit(r, action, id)
	s.cfg.Kick()
	writeJSON(w, http.StatusOK, viewInstance(in))
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request) {
	id, ok := s.bodyID(w, r, "id")
	if !ok {
		return
	}
	if err := s.store.DeleteInstance(r.Context(), id); err != nil {
		s.writeSeedError(w, r, err)
		return
	}
	s.audit(r, "instance.delete", id)
	s.cfg.Kick()
	writeJSON(w, s.cfg.Mode.status(instanceDeleted), map[string]string{"message": "The instance has been successfully deleted."})
}

// bodyID reads the id in the body's field, answering the error itself
// when the body or the field is wrong.
func (s *Server) bodyID(w http.ResponseWriter, r *http.Request, field string) (string, bool) {
	b, ok := s.decode(w, r)
	if !ok {
		return "", false
	}
	id, err := b.str(field, true, maxID)
	if err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	return id, true
}

// writeSeedError answers err, giving a lookup miss the status that the
// compatibility table decides for seed endpoints.
func (s *Server) writeSeedError(w http.ResponseWriter, r *http.Request, err error) {
	if fault.Is(err, fault.NotExist) {
		s.writeErrorStatus(w, r, s.cfg.Mode.status(seedNotFound), err)
		return
	}
	s.writeError(w, r, err)
}

// instanceOr404 loads the instance named by the path, answering 404 itself.
func (s *Server) instanceOr404(w http.ResponseWriter, r *http.Request) (store.Instance, bool) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return store.Instance{}, false
	}
	in, err := s.store.InstanceByID(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return store.Instance{}, false
	}
	return in, true
}
