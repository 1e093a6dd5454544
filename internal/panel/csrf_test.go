package panel_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/panel"
)

func TestCookieChangesFromAnotherOriginAreRefused(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := cred{cookie: p.signIn("ann", "")}
	token := cred{token: p.newToken(session.cookie, map[string]any{"name": "t"})}
	create := map[string]any{"name": "x"}
	const path = "/api/client/account/tokens"
	// httptest requests come to host example.com.
	crossOrigin := []string{"Origin", "https://evil.example"}
	crossSite := []string{"Sec-Fetch-Site", "cross-site"}
	for _, c := range []struct {
		what    string
		c       cred
		method  string
		headers []string
		code    int
	}{
		{"a cross-origin cookie POST", session, "POST", crossOrigin, 403},
		{"a cross-site cookie POST", session, "POST", crossSite, 403},
		{"a same-origin cookie POST", session, "POST", []string{"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"}, 201},
		{"a cookie POST from no page (a script)", session, "POST", nil, 201},
		{"a cross-origin cookie GET, which reads", session, "GET", crossOrigin, 200},
		{"a cross-origin bearer POST", token, "POST", crossOrigin, 201},
		{"a cross-site bearer POST", token, "POST", crossSite, 201},
	} {
		if r := p.as(c.c, c.method, path, create, c.headers...); r.code != c.code {
			t.Errorf("%s: %d %s, want %d", c.what, r.code, r.body, c.code)
		}
	}
	p.expectAs(200, cred{key: p.key}, "GET", "/api/users", nil, crossSite...)
	p.expectAs(201, cred{key: p.key}, "POST", "/api/auth/create-user",
		map[string]any{"username": "ben", "email": "ben@example.com", "password": userPassword}, crossSite...)
	// Sign-in and sign-out from another site's page are refused too.
	p.expectAs(403, cred{}, "POST", "/auth/login", map[string]any{"username": "ann", "password": userPassword}, crossSite...)
	p.expectAs(403, session, "POST", "/auth/logout", nil, crossSite...)
	p.expectAs(200, session, "GET", "/api/client/account", nil)
}

func TestThePublicURLsOriginIsTrustedBehindAProxy(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{PublicURL: "https://panel.example"})
	p.addUser("ann", false)
	session := cred{cookie: p.signIn("ann", "")}
	// The proxy hands the panel requests for example.com; the browser's
	// page is at the public URL.
	p.expectAs(201, session, "POST", "/api/client/account/tokens", map[string]any{"name": "x"}, "Origin", "https://panel.example")
	p.expectAs(403, session, "POST", "/api/client/account/tokens", map[string]any{"name": "x"}, "Origin", "https://other.example")
}
