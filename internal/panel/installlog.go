package panel

import (
	"net/http"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// installLog answers the output of the instance's install (downloads and
// install script), which its node keeps: GET /api/instances/install-log/{id}
// with an optional ?tail=N (1 to 5000, default all of it up to 5000
// lines). The answer is {id, lines, installing, installed, error}.
func (s *Server) installLog(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		tail, err := nodeapi.ParseTail(r.URL.Query(), nodeapi.DefaultInstallLogTail)
		if err != nil {
			return err
		}
		t, c, err := s.instanceAndNode(r, f)
		if err != nil {
			return err
		}
		log, err := c.InstallLog(r.Context(), t.in.ID, tail)
		if err != nil {
			return nodeFault(t.in, err)
		}
		writeJSON(w, http.StatusOK, installLogView{
			Error: log.Error, ID: t.in.ID, Installed: log.Installed, Installing: log.Installing, Lines: log.Lines,
		})
		return nil
	}
}
