package panel

import "net/http"

// stats answers a sample of an instance's resource use.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	in, c, err := s.instanceAndNode(r)
	if err != nil {
		return err
	}
	st, err := c.Stats(r.Context(), in.ID)
	if err != nil {
		return nodeFault(in, err)
	}
	writeJSON(w, http.StatusOK, statsView{ID: in.ID, Stats: st})
	return nil
}
