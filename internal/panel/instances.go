package panel

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
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

// listInstances answers the instances, oldest first: all of them, from
// the patched cache, or with filters or a page, from the database.
func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) error {
	lq, err := readListQuery(r)
	if err != nil {
		return err
	}
	f, err := s.readInstanceFilter(r, lq.query)
	if err != nil {
		return err
	}
	if lq.page == (store.Page{}) && f == (store.InstanceFilter{}) {
		return s.serveInstanceList(w, r, lq)
	}
	return writeList(s, w, r, lq, func(p store.Page) ([]store.Instance, error) {
		return s.store.InstancePage(r.Context(), f, p)
	}, viewInstanceRow)
}

// readInstanceFilter reads the instance list's filters: ?node= and
// ?user= (ids, which must exist), ?state= (an InternalState), ?status=
// (a power status as the list shows it) and ?name= (a prefix of the
// name, case and all).
func (s *Server) readInstanceFilter(r *http.Request, q url.Values) (store.InstanceFilter, error) {
	var f store.InstanceFilter
	var err error
	if f.NodeID, err = filterText(q, "node"); err != nil {
		return f, err
	}
	if f.NodeID != "" {
		if _, err := s.store.NodeByID(r.Context(), f.NodeID); fault.Is(err, fault.NotExist) {
			return f, fault.InvalidField("node", "no node has id %q", f.NodeID)
		} else if err != nil {
			return f, err
		}
	}
	if f.UserID, err = filterText(q, "user"); err != nil {
		return f, err
	}
	if f.UserID != "" {
		if _, err := s.store.UserByID(r.Context(), f.UserID); fault.Is(err, fault.NotExist) {
			return f, fault.InvalidField("user", "no user has userId %q", f.UserID)
		} else if err != nil {
			return f, err
		}
	}
	if f.State, err = filterWord(q, "state", store.StateInstalling, store.StateReady, store.StateFailed); err != nil {
		return f, err
	}
	if f.Status, err = filterWord(q, "status", nodeapi.StatusOffline, nodeapi.StatusInstalling, nodeapi.StatusStarting,
		nodeapi.StatusRunning, nodeapi.StatusStopping, nodeapi.StatusStopped, nodeapi.StatusCrashed); err != nil {
		return f, err
	}
	if f.NamePrefix, err = filterText(q, "name"); err != nil {
		return f, err
	}
	return f, nil
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
