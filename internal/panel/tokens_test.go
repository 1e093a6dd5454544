package panel_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
)

func TestTokenIsShownOnceListedWithoutItAndDeletable(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	s := cred{cookie: p.signIn("ann", "")}
	expires := clock.Now().Add(24 * time.Hour).Format(time.RFC3339)
	r := p.expectAs(201, s, "POST", "/api/client/account/tokens", map[string]any{"name": "ci", "readOnly": true, "expiresAt": expires})
	made := r.object(t)
	hasKeys(t, "the new token", made, "id", "name", "token", "readOnly", "expiresAt", "createdAt")
	tok := made["token"].(string)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the answer carrying the token may be cached: Cache-Control %q", cc)
	}
	if made["name"] != "ci" || made["readOnly"] != true || made["expiresAt"] != expires || !strings.HasPrefix(tok, "berth_pat_") {
		t.Errorf("new token = %s", r.body)
	}
	noExpiry := p.expectAs(201, s, "POST", "/api/client/account/tokens", map[string]any{"name": "forever"}).object(t)
	if noExpiry["expiresAt"] != nil || noExpiry["readOnly"] != false {
		t.Errorf("a token without expiry: %v", noExpiry)
	}
	list := p.expectAs(200, s, "GET", "/api/client/account/tokens", nil)
	if strings.Contains(string(list.body), tok) || strings.Contains(string(list.body), "berth_pat_") {
		t.Errorf("the list carries a token: %s", list.body)
	}
	byID := indexBy(t, list.array(t), "id")
	if len(byID) != 2 || byID[made["id"].(string)]["name"] != "ci" {
		t.Errorf("list = %s", list.body)
	}
	lacksKeys(t, "a listed token", byID[made["id"].(string)], "token")
	p.expectAs(200, cred{token: tok}, "GET", "/api/client/account", nil)
	p.expectAs(204, s, "DELETE", "/api/client/account/tokens/"+made["id"].(string), nil)
	r = p.expectAs(401, cred{token: tok}, "GET", "/api/client/account", nil)
	if msg := r.errorMessage(t); !strings.Contains(msg, "token") {
		t.Errorf("deleted token: %q", msg)
	}
	p.expectAs(404, s, "DELETE", "/api/client/account/tokens/"+made["id"].(string), nil)
}

func TestTokenBodiesAreCheckedNamingTheField(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	s := cred{cookie: p.signIn("ann", "")}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "name"},
		{map[string]any{"name": strings.Repeat("n", 65)}, "name"},
		{map[string]any{"name": "x", "readOnly": "maybe"}, "readOnly"},
		{map[string]any{"name": "x", "expiresAt": "tomorrow"}, "expiresAt"},
		{map[string]any{"name": "x", "expiresAt": 1700000000}, "expiresAt"},
		{map[string]any{"name": "x", "expiresAt": clock.Now().Add(-time.Second).Format(time.RFC3339)}, "expiresAt"},
	} {
		r := p.expectAs(400, s, "POST", "/api/client/account/tokens", c.body)
		if !strings.HasPrefix(r.errorMessage(t), c.field+":") {
			t.Errorf("%v: %s, want a message naming %s", c.body, r.body, c.field)
		}
	}
}

func TestReadOnlyTokenMayReadAndNothingMore(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	p.addUser("root", true)
	ro := cred{token: p.newToken(p.signIn("ann", ""), map[string]any{"name": "ro", "readOnly": true})}
	p.expectAs(200, ro, "GET", "/api/client/account/tokens", nil)
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/client/account/tokens"},
		{"DELETE", "/api/client/account/sessions"},
		{"POST", "/api/client/account/2fa/setup"},
	} {
		r := p.expectAs(403, ro, c.method, c.path, map[string]any{"name": "more"})
		if !strings.Contains(r.errorMessage(t), "read-only") {
			t.Errorf("%s %s: %s", c.method, c.path, r.body)
		}
	}
	adminRO := cred{token: p.newToken(p.signIn("root", ""), map[string]any{"name": "ro", "readOnly": true})}
	p.expectAs(200, adminRO, "GET", "/api/users", nil)
	p.expectAs(403, adminRO, "POST", "/api/auth/create-user", map[string]any{"username": "x", "email": "x@example.com", "password": userPassword})
}

func TestExpiredTokenIsRefused(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	tok := cred{token: p.newToken(p.signIn("ann", ""), map[string]any{"name": "short", "expiresAt": clock.Now().Add(time.Hour).Format(time.RFC3339)})}
	p.expectAs(200, tok, "GET", "/api/client/account", nil)
	// Used a second before its expiry, and so cached, it is refused from
	// the second it expires.
	clock.advance(time.Hour - time.Second)
	p.expectAs(200, tok, "GET", "/api/client/account", nil)
	clock.advance(time.Second)
	if r := p.expectAs(401, tok, "GET", "/api/client/account", nil); !strings.Contains(r.errorMessage(t), "expired") {
		t.Errorf("expired token: %s", r.body)
	}
}

func TestTokenIsNeverMoreThanItsUser(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	rootID := p.addUser("root", true)
	user := cred{token: p.newToken(p.signIn("ann", ""), map[string]any{"name": "t"})}
	p.expectAs(403, user, "GET", "/api/users", nil)
	admin := cred{token: p.newToken(p.signIn("root", ""), map[string]any{"name": "t"})}
	adminSession := cred{cookie: p.signIn("root", "")}
	p.expectAs(200, admin, "GET", "/api/users", nil)
	p.expectAs(200, adminSession, "GET", "/api/users", nil)
	// Demoted, the admin's token and session lose admin at once, though
	// both were just used (and cached); promoted again, they regain it.
	p.expect(200, "PATCH", "/api/users/"+rootID, map[string]any{"admin": false})
	p.expectAs(403, admin, "GET", "/api/users", nil)
	p.expectAs(403, adminSession, "GET", "/api/users", nil)
	p.expectAs(200, admin, "GET", "/api/client/account", nil)
	p.expect(200, "PATCH", "/api/users/"+rootID, map[string]any{"admin": true})
	p.expectAs(200, admin, "GET", "/api/users", nil)
	p.expectAs(200, adminSession, "GET", "/api/users", nil)
}

func TestEachFrontTakesItsOwnCredentials(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	for _, c := range []struct {
		what string
		c    cred
		path string
		code int
		msg  string
	}{
		{"an admin key on /api/client", cred{key: p.key}, "/api/client/account", 401, "API key is not a user credential"},
		{"nothing on /api/client", cred{}, "/api/client/account", 401, "sign in"},
		{"nothing on an unknown /api/client path", cred{}, "/api/client/nothing", 401, "sign in"},
		{"a malformed bearer token", cred{token: "berth_pat_short"}, "/api/client/account", 401, "not a personal access token"},
		{"an API key as a bearer token", cred{token: p.key}, "/api/users", 401, "not a personal access token"},
		{"an unknown session", cred{cookie: "made-up"}, "/api/users", 401, "session"},
		{"nothing on /api", cred{}, "/api/users", 401, "API key is required"},
	} {
		r := p.as(c.c, "GET", c.path, nil)
		if r.code != c.code || !strings.Contains(r.errorMessage(t), c.msg) {
			t.Errorf("%s: %d %s, want %d naming %q", c.what, r.code, r.body, c.code, c.msg)
		}
	}
	// A user signed in, or with a token, on an unknown /api/client path
	// or method: a plain 404 or 405.
	session := p.signIn("ann", "")
	token := cred{token: p.newToken(session, map[string]any{"name": "cli"})}
	for _, c := range []cred{{cookie: session}, token} {
		p.expectAs(404, c, "GET", "/api/client/nothing", nil)
		p.expectAs(404, c, "GET", "/api/client/instances/x/nothing", nil)
		p.expectAs(405, c, "PATCH", "/api/client/account", nil)
	}
}
