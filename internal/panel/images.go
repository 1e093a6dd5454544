package panel

import (
	"net/http"

	"github.com/berth-dev/berth/internal/images"
)

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ListTemplates(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]images.Template, 0, len(list))
	for _, row := range list {
		t, err := images.Decode(row.Doc)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		t.ID, t.Name = row.ID, row.Name
		out = append(out, t)
	}
	writeJSON(w, http.StatusOK, out)
}
