package panel_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/web"
)

// page loads path as a browser would, with the session cookie (none when
// session is ""), and checks what every page answer must have: the CSP
// and HTML. Redirects are returned, not followed.
func (p *testPanel) page(session, path string) response {
	p.t.Helper()
	r := p.as(cred{cookie: session}, "GET", path, nil, "Accept", "text/html")
	if r.code/100 == 3 {
		return r
	}
	if got := r.header.Get("Content-Security-Policy"); got != web.CSP {
		p.t.Fatalf("GET %s: Content-Security-Policy %q, want %q", path, got, web.CSP)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		p.t.Fatalf("GET %s: Content-Type %q, want HTML", path, ct)
	}
	return r
}

// expectPage is page, failing unless the answer is code and its body
// holds every one of words.
func (p *testPanel) expectPage(code int, session, path string, words ...string) string {
	p.t.Helper()
	r := p.page(session, path)
	if r.code != code {
		p.t.Fatalf("GET %s: status %d, want %d: %.400s", path, r.code, code, r.body)
	}
	body := string(r.body)
	for _, w := range words {
		if !strings.Contains(body, w) {
			p.t.Errorf("GET %s: page lacks %q", path, w)
		}
	}
	return body
}

// lacks fails t when page body holds any of the secrets.
func lacks(t testing.TB, what, body string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(body, s) {
			t.Errorf("%s holds a secret: %q", what, s)
		}
	}
}

// expectSignInRedirect fails unless GET path sends a stranger to sign in.
func (p *testPanel) expectSignInRedirect(path string) {
	p.t.Helper()
	r := p.page("", path)
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
		p.t.Fatalf("GET %s signed out: %d Location %q, want 303 to /login?next=", path, r.code, r.header.Get("Location"))
	}
}
