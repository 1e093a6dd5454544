package panel

import "net/http"

// stats answers a sample of an instance's resource use.
func (s *Server) stats(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, c, err := s.instanceAndNode(r, f)
		if err != nil {
			return err
		}
		st, err := c.Stats(r.Context(), t.in.ID)
		if err != nil {
			return nodeFault(t.in, err)
		}
		writeJSON(w, http.StatusOK, statsView{ID: t.in.ID, Stats: st})
		return nil
	}
}
