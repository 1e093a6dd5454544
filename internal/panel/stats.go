package panel

import (
	"net/http"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// stats answers a sample of an instance's resource use.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	in, c, ok := s.instanceAndNode(w, r)
	if !ok {
		return
	}
	st, err := c.Stats(r.Context(), in.ID)
	if err != nil {
		s.writeError(w, r, nodeFault(in, err))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID string `json:"id"`
		nodeapi.Stats
	}{in.ID, st})
}
