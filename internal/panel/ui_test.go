package panel_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/panel"
)

func TestPagesSendAStrangerToSignInAndBack(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.expectSignInRedirect("/")
	body := p.expectPage(200, "", "/login?next=%2Finstances%2Fabc", `data-api="POST /auth/login"`, `data-then="/instances/abc"`,
		`for="username"`, `for="password"`, `for="code"`)
	lacks(t, "sign-in page", body, p.key)
	// A next that leaves the panel is not followed.
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "/%09/evil.example/x", "/%0a/evil.example"} {
		p.expectPage(200, "", "/login?next="+next, `data-then="/"`)
	}
}

func TestSignedInUserIsSentOnFromTheSignInPage(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	r := p.page(session, "/login?next=/account")
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("signed in, /login: %d to %q, want 303 to /account", r.code, r.header.Get("Location"))
	}
}

func TestPagesRefuseAKeyOrATokenAsABrowserCredential(t *testing.T) {
	c := newClientPanel(t)
	c.user("ann", false)
	c.tokenFor("ann-token", "ann", false)
	for _, cr := range []cred{{key: c.key}, c.callers["ann-token"]} {
		r := c.as(cr, "GET", "/", nil, "Accept", "text/html")
		if r.code != http.StatusSeeOther {
			t.Errorf("GET / with %+v: %d, want a redirect to sign in", cr, r.code)
		}
	}
}

func TestDashboardListsOwnedAndSharedInstancesAndNoOneElses(t *testing.T) {
	c := newClientPanel(t)
	ann := c.user("ann", false)
	own := c.readyInstanceOf(ann, "25601")
	shared := c.readyInstanceOf(c.user("bob", false), "25602")
	other := c.readyInstanceOf(c.user("cy", false), "25603")
	c.grant(shared, ann, access.ConsoleRead)
	c.sessionFor("ann-session", "ann")
	body := c.expectPage(200, c.callers["ann-session"].cookie, "/", "Your instances", "/instances/"+own,
		"/instances/"+shared, "(shared)", "127.0.0.1:25601")
	if strings.Contains(body, other) {
		t.Errorf("the dashboard shows another user's instance %s", other)
	}
	if strings.Contains(body, `id="filter"`) {
		t.Error("a list of two offers a filter")
	}
	lacks(t, "dashboard", body, c.key)
}

func TestDashboardOfANewUserSaysWhatToDo(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	p.expectPage(200, p.signIn("ann", ""), "/", "No instances yet")
}

func TestUnknownPagesAnswerTheAppsNotFoundPageAndAPIPathsJSON(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	p.expectPage(404, session, "/no/such/page", "Not found", "Back to your instances")
	p.expectPage(404, "", "/no/such/page", "Not found")
	r := p.as(cred{cookie: session}, "GET", "/api/client/nothing", nil, "Accept", "text/html")
	if r.code != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown API path: %d %s, want a JSON 404", r.code, r.header.Get("Content-Type"))
	}
}

func TestStaticFilesHaveHashedImmutableURLsAndAreServedCompressed(t *testing.T) {
	p := newPanel(t, panel.Config{})
	body := p.expectPage(200, "", "/login")
	urls := regexp.MustCompile(`/static/[\w.-]+\.(?:css|js|svg)`).FindAllString(body, -1)
	if len(urls) < 3 {
		t.Fatalf("the sign-in page links %d static files: %v", len(urls), urls)
	}
	for _, u := range urls {
		r := p.as(cred{}, "GET", u, nil, "Accept-Encoding", "gzip")
		if r.code != 200 || r.header.Get("Content-Encoding") != "gzip" ||
			r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("GET %s: %d, encoding %q, cache %q", u, r.code, r.header.Get("Content-Encoding"), r.header.Get("Cache-Control"))
		}
		zr, err := gzip.NewReader(strings.NewReader(string(r.body)))
		if err != nil {
			t.Fatalf("GET %s: not gzip: %v", u, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || len(plain) == 0 {
			t.Fatalf("GET %s: gunzip: %v (%d bytes)", u, err, len(plain))
		}
		if r := p.as(cred{}, "GET", u, nil); r.code != 200 || r.header.Get("Content-Encoding") != "" || string(r.body) != string(plain) {
			t.Fatalf("GET %s without gzip: %d, encoding %q", u, r.code, r.header.Get("Content-Encoding"))
		}
	}
	if r := p.as(cred{}, "GET", "/static/app.css", nil); r.code != 404 {
		t.Errorf("an unhashed static name: %d, want 404", r.code)
	}
}
