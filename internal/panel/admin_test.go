package panel_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
)

// adminRoutes are the user and key management routes, for the checks
// every /api route must pass.
var adminRoutes = []struct {
	method, path string
	body         any
}{
	{"PATCH", "/api/users/someone", map[string]any{"admin": true}},
	{"DELETE", "/api/users/someone", nil},
	{"GET", "/api/keys", nil},
	{"POST", "/api/keys", map[string]any{"name": "k"}},
	{"DELETE", "/api/keys/someid", nil},
}

func TestAdminRoutesNeedAKey(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		for _, e := range adminRoutes {
			if r := p.send("", e.method, e.path, e.body); r.code != 401 || r.errorMessage(t) != "API key is required" {
				t.Errorf("%s %s without key: %d %s", e.method, e.path, r.code, r.body)
			}
			if r := p.send(p.key+"x", e.method, e.path, e.body); r.code != 401 || r.errorMessage(t) != "API key is invalid" {
				t.Errorf("%s %s with a wrong key: %d %s", e.method, e.path, r.code, r.body)
			}
		}
		p.expectUnchanged(before)
	})
}

func TestPatchUserChangesTheGivenFields(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		id := p.createUser("alice")
		r := p.expect(200, "PATCH", "/api/users/"+id, map[string]any{"username": "Alicia", "email": "alicia@example.com", "admin": true})
		u := r.object(t)
		if u["userId"] != id || u["username"] != "Alicia" || u["email"] != "alicia@example.com" || u["admin"] != true {
			t.Errorf("PATCH answered %s", r.body)
		}
		p.expectAudit("user.update", id)
		got := p.expect(modeCodes[p.mode].userFound, "POST", "/api/getUser", map[string]any{"type": "email", "value": "ALICIA@example.com"}).object(t)
		if got["username"] != "Alicia" || got["admin"] != true {
			t.Errorf("getUser after PATCH = %v", got)
		}
		// Form bodies work as they do for create-user; a field left out
		// stays as it was.
		p.expect(200, "PATCH", "/api/users/"+id, url.Values{"admin": {"false"}})
		stored, err := p.st.UserByID(context.Background(), id)
		if err != nil || stored.Admin || stored.Username != "Alicia" {
			t.Errorf("after a form PATCH the user is %+v, %v", stored, err)
		}
	})
}

func TestPatchUserPasswordIsHashedAndChecked(t *testing.T) {
	p := newPanel(t, panel.Config{})
	id := p.createUser("bob")
	p.expect(200, "PATCH", "/api/users/"+id, map[string]any{"password": "  a new passphrase  "})
	stored, err := p.st.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"  a new passphrase  ": true, "a new passphrase": false, "correct horse": false} {
		if ok, err := secret.CheckPassword(stored.PasswordHash, pw); err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
}

func TestPatchUserRejectsBadFieldsNamingThem(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		id := p.createUser("carol")
		p.createUser("dave")
		before := p.snapshot()
		for _, c := range []struct {
			body  any
			field string
		}{
			{map[string]any{}, "body"},
			{map[string]any{"username": ""}, "username"},
			{map[string]any{"username": "eve\u202egnp"}, "username"},
			{map[string]any{"username": strings.Repeat("x", 65)}, "username"},
			{map[string]any{"email": "not-an-email"}, "email"},
			{map[string]any{"email": 7}, "email"},
			{map[string]any{"password": "short"}, "password"},
			{map[string]any{"password": strings.Repeat("p", 1025)}, "password"},
			{map[string]any{"admin": "maybe"}, "admin"},
			{map[string]any{"username": "fine", "admin": "maybe"}, "admin"},
			{`{"username": `, "body"},
		} {
			p.expectError(400, "PATCH", "/api/users/"+id, c.body, c.field)
		}
		p.expectError(400, "PATCH", "/api/users/"+url.PathEscape("a b"), map[string]any{"admin": true}, "userId")
		p.expectUnchanged(before)
		if u, _ := p.st.UserByID(context.Background(), id); u.Username != "carol" || u.Admin {
			t.Errorf("a refused PATCH changed the user: %+v", u)
		}
	})
}

func TestPatchUserAnswers409ForATakenNameAnd404ForNobody(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		id := p.createUser("frank")
		p.createUser("grace")
		before := p.snapshot()
		p.expectError(409, "PATCH", "/api/users/"+id, map[string]any{"username": "GRACE"}, "username")
		p.expectError(409, "PATCH", "/api/users/"+id, map[string]any{"email": "Grace@Example.com"}, "email")
		p.expectError(404, "PATCH", "/api/users/nobody", map[string]any{"admin": true}, "User")
		p.expectUnchanged(before)
	})
}

func TestDeleteUserAnswers204Or409WhileInstancesRemain(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		owner := p.createUser("owner")
		idle := p.createUser("idle")
		node, _ := p.createNode("n1", 8192, 8192)
		inst := p.deploy(deployBody(owner, node, "25565", "25565"))

		before := p.snapshot()
		p.expectError(409, "DELETE", "/api/users/"+owner, nil, "instance")
		p.expectError(404, "DELETE", "/api/users/nobody", nil, "User")
		p.expectUnchanged(before)

		if r := p.expect(204, "DELETE", "/api/users/"+idle, nil); len(r.body) != 0 {
			t.Errorf("204 with a body: %q", r.body)
		}
		p.expectAudit("user.delete", idle)
		p.expect(modeCodes[p.mode].notFound, "POST", "/api/getUser", map[string]any{"type": "username", "value": "idle"})

		p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": inst})
		p.expect(204, "DELETE", "/api/users/"+owner, nil)
	})
}

func TestKeysListWithoutSecrets(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		list := p.expect(200, "GET", "/api/keys", nil).array(t)
		if len(list) != 1 {
			t.Fatalf("GET /api/keys = %v; want the test key", list)
		}
		k := list[0]
		hasKeys(t, "a listed key", k, "id", "name", "createdAt", "revokedAt")
		if k["id"] != p.keyID || k["name"] != "test" || k["revokedAt"] != nil || len(k) != 4 {
			t.Errorf("listed key = %v", k)
		}
	})
}

func TestCreateKeyShowsTheKeyOnceAndItWorks(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.expectError(400, "POST", "/api/keys", map[string]any{}, "name")
		p.expectError(400, "POST", "/api/keys", map[string]any{"name": strings.Repeat("n", 101)}, "name")
		r := p.expect(201, "POST", "/api/keys", map[string]any{"name": "ci"})
		m := r.object(t)
		key, _ := m["key"].(string)
		id, _ := m["id"].(string)
		if !strings.HasPrefix(key, "berth_") || len(key) < 40 || id == "" || m["name"] != "ci" || m["revokedAt"] != nil {
			t.Fatalf("POST /api/keys answered %s", r.body)
		}
		p.expectAudit("apikey.create", id)
		if r := p.send(key, "GET", "/api/users", nil); r.code != 200 {
			t.Errorf("the new key does not work: %d %s", r.code, r.body)
		}
		list := indexBy(t, p.expect(200, "GET", "/api/keys", nil).array(t), "id")
		lacksKeys(t, "a listed key", list[id], "key", "keyHash", "hash")
		if list[id]["name"] != "ci" {
			t.Errorf("the new key is listed as %v", list[id])
		}
	})
}

func TestRevokedKeyStopsWorkingAtOnce(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		m := p.expect(201, "POST", "/api/keys", map[string]any{"name": "doomed"}).object(t)
		key, id := m["key"].(string), m["id"].(string)
		// A use puts the key in the panel's cache.
		if r := p.send(key, "GET", "/api/users", nil); r.code != 200 {
			t.Fatalf("the new key does not work: %d %s", r.code, r.body)
		}
		if r := p.expect(204, "DELETE", "/api/keys/"+id, nil); len(r.body) != 0 {
			t.Errorf("204 with a body: %q", r.body)
		}
		p.expectAudit("apikey.revoke", id)
		if r := p.send(key, "GET", "/api/users", nil); r.code != 401 || r.errorMessage(t) != "API key is invalid" {
			t.Errorf("the revoked key still answers %d %s", r.code, r.body)
		}
		list := indexBy(t, p.expect(200, "GET", "/api/keys", nil).array(t), "id")
		if list[id]["revokedAt"] == nil || list[p.keyID]["revokedAt"] != nil {
			t.Errorf("after the revoke the keys are %v", list)
		}
		// Revoking it again changes nothing.
		p.expect(204, "DELETE", "/api/keys/"+id, nil)
	})
}

func TestKeyCanRevokeItselfButNotTheLastOne(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		p.expectError(409, "DELETE", "/api/keys/"+p.keyID, nil, "last")
		p.expectError(404, "DELETE", "/api/keys/nope", nil, "API key")
		p.expectUnchanged(before)
		if r := p.call("GET", "/api/users", nil); r.code != 200 {
			t.Fatalf("the last key stopped working after a refused revoke: %d", r.code)
		}

		other := p.expect(201, "POST", "/api/keys", map[string]any{"name": "other"}).object(t)["key"].(string)
		p.expect(204, "DELETE", "/api/keys/"+p.keyID, nil)
		if r := p.call("GET", "/api/users", nil); r.code != http.StatusUnauthorized {
			t.Errorf("a key that revoked itself still answers %d", r.code)
		}
		if r := p.send(other, "GET", "/api/users", nil); r.code != 200 {
			t.Errorf("the other key stopped working: %d", r.code)
		}
	})
}
