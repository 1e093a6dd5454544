package panel

import (
	"net/http"
	"slices"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/web"
)

// instancePageView is what every page of one instance is rendered with:
// the instance, what the viewer holds on it, the current tab, and the
// tab's own data.
type instancePageView struct {
	Instance instanceCard
	// State is the instance's full view (status, exit code, errors).
	State instanceView
	Held  []access.Permission
	Tab   string
	// Page is the tab's own data.
	Page any
}

// Can reports whether the viewer holds permission p, for templates:
// {{if .Data.Can "power"}}.
func (v instancePageView) Can(p string) bool {
	return slices.Contains(v.Held, access.Permission(p))
}

// instancePageHandler renders one tab of an instance's pages.
type instancePageHandler func(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error

// instancePage serves h for the instance named by the path's {id}, to a
// viewer allowed to take need on it (any business with it when need is
// empty): the authorizer decides, as it does for the client API, and a
// stranger gets the 404 page whether the instance exists or not.
func (s *Server) instancePage(tab string, need access.Permission, h instancePageHandler) http.Handler {
	front := s.clientInstance(access.Action{Need: need})
	return s.page("instances", func(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
		t, err := front(r)
		if err != nil {
			return err
		}
		p := callerOf(r)
		shared := t.in.UserID != v.ID && !p.IsAdmin()
		iv := instancePageView{Instance: viewCard(t.in, shared, slices.Contains(t.held, access.ConsoleRead)),
			State: viewInstance(t.in), Held: t.held, Tab: tab}
		return h(w, r, v, iv)
	})
}

// instancePages registers the pages of one instance.
func (s *Server) instancePages(page func(string, http.Handler)) {}
