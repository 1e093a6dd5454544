package panel

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/web"
)

// The web UI (DESIGN §9) is served at / beside the API, on the same origin:
// pages rendered on the server from the store, whose forms and live parts
// call the JSON API with the session cookie. Pages take only a session: an
// API key or a token is a program's credential, not a browser's.

// pageHandler renders one page for the signed-in viewer v.
type pageHandler func(w http.ResponseWriter, r *http.Request, v *web.Viewer) error

// uiRoutes registers the pages and static files. They are not part of the
// API, so they are kept out of s.patterns and the OpenAPI document.
func (s *Server) uiRoutes() {
	page := func(pattern string, h http.Handler) { s.mux.Handle(pattern, s.timeBody(false, limitBody(maxBody, h))) }
	page("GET /static/{file}", http.HandlerFunc(s.site.ServeAsset))
	page("GET /login", http.HandlerFunc(s.loginPage))
	page("GET /{$}", s.page("instances", s.dashboardPage))
	s.instancePages(page)
	s.instanceDataPages(page)
	s.backupPages(page)
	s.accountPages(page)
	s.adminPages(page)
	s.adminDeployPages(page)
}

// page serves h to a signed-in user, and sends anyone else to the sign-in
// page. An admin who must set up two-factor is sent to the account page.
func (s *Server) page(section string, h pageHandler) http.Handler {
	return s.pageFor(section, false, h)
}

// adminPage is page for admins only: others get the 403 page.
func (s *Server) adminPage(h pageHandler) http.Handler {
	return s.pageFor("admin", true, h)
}

func (s *Server) pageFor(section string, admin bool, h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, c, err := s.viewer(r)
		if err != nil {
			if statusOf(err) == http.StatusUnauthorized {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, nil, err)
			return
		}
		if s.mustSetUpTwoFactor(v.Admin, c.twoFactor) && r.URL.Path != accountPath {
			http.Redirect(w, r, accountPath, http.StatusSeeOther)
			return
		}
		if admin && !v.Admin {
			s.errorPage(w, r, v, fault.New(fault.Permission, "This page is for admins."))
			return
		}
		r = r.WithContext(access.WithPrincipal(r.Context(), c.Principal))
		if err := h(w, r, v); err != nil {
			s.errorPage(w, r, v, err)
		}
	})
}

// viewer is the user whose session cookie r carries, and its caller; an
// error with status 401 when it carries none, or one that has ended.
func (s *Server) viewer(r *http.Request) (*web.Viewer, caller, error) {
	c, err := s.identify(r)
	if err != nil {
		return nil, c, err
	}
	if c.via != byCookie {
		return nil, c, unauthenticated("sign in")
	}
	u, err := s.store.UserByID(r.Context(), c.UserID)
	if fault.Is(err, fault.NotExist) {
		return nil, c, unauthenticated("sign in")
	}
	if err != nil {
		return nil, c, err
	}
	s.touch(r, c, s.now())
	return &web.Viewer{ID: u.ID, Username: u.Username, Email: u.Email, Admin: u.Admin}, c, nil
}

// render renders a page for v with the status 200.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p web.Page) error {
	// Site.Render writes nothing when the template fails, so the error
	// page can still answer.
	return s.site.Render(w, http.StatusOK, name, p)
}

// errorView is the data of the error page.
type errorView struct {
	Status  int
	Message string
}

// errorPage answers err as a page of the app's style: its status, and its
// message when it is meant for the user; a 500 shows only the request id.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, err error) {
	status := statusOf(err)
	msg := fault.Message(err)
	title := http.StatusText(status)
	switch {
	case status >= 500 && fault.KindOf(err) == fault.Other:
		s.logError(r, "page failed", err)
		msg = "Something went wrong on our side. The request id is " + requestID(r) + "."
		title = "Something went wrong"
	case status == http.StatusNotFound:
		title = "Not found"
	case status == http.StatusForbidden:
		title = "Not allowed"
	}
	p := web.Page{Title: title, Viewer: v, Data: errorView{Status: status, Message: msg}}
	if rerr := s.site.Render(w, status, "error", p); rerr != nil {
		s.logError(r, "render error page", errors.Join(err, rerr))
	}
}

// notFoundPage answers a browser's request for a path that is neither a
// page nor an endpoint.
func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	v, _, _ := s.viewer(r)
	s.errorPage(w, r, v, fault.New(fault.NotExist, "There is nothing at this address, or you may not see it."))
}

// wantsPage reports whether an unmatched request is a browser's page load
// rather than an API call: a GET outside the API that accepts HTML.
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/auth/") || strings.HasPrefix(p, "/nodes/") || p == "/healthz" {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// loginView is the data of the sign-in page.
type loginView struct {
	// Next is where to go after signing in: a path on this panel.
	Next string
}

// loginPage renders the sign-in form, or sends a signed-in user on.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, _, err := s.viewer(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, "login", web.Page{Title: "Sign in", Data: loginView{Next: next}})
}

// localPath is p when it is a path on this panel, and "/" otherwise: a
// sign-in link must not send the user to another site.
func localPath(p string) string {
	// Browsers drop tabs and newlines from a URL, so "/\t/evil.example"
	// would leave as "//evil.example": no control character is let in.
	control := func(r rune) bool { return r < 0x20 || r == 0x7f }
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsFunc(p, control) {
		return "/"
	}
	return p
}
