package panel_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
)

// everyEndpoint lists every /api route of the seed with a body that would
// otherwise be valid enough to reach the handler.
var everyEndpoint = []struct {
	method, path string
	body         any
}{
	{"GET", "/api/users", nil},
	{"POST", "/api/getUser", map[string]any{"type": "username", "value": "alice"}},
	{"POST", "/api/auth/create-user", map[string]any{"username": "alice", "email": "a@example.com", "password": "correct horse"}},
	{"GET", "/api/instances", nil},
	{"POST", "/api/instances/deploy", map[string]any{"image": "nginx", "memory": 1, "cpu": 1, "ports": "80", "nodeId": "n", "name": "x", "user": "u", "primary": "80"}},
	{"DELETE", "/api/instance/delete", map[string]any{"id": "x"}},
	{"POST", "/api/getUserInstance", map[string]any{"userId": "u"}},
	{"POST", "/api/getInstance", map[string]any{"id": "x"}},
	{"POST", "/api/instances/suspend/x", nil},
	{"POST", "/api/instances/unsuspend/x", nil},
	{"GET", "/api/images", nil},
	{"GET", "/api/nodes", nil},
	{"POST", "/api/nodes/create", map[string]any{"name": "n", "ram": 1024, "disk": 1024, "address": "10.0.0.1", "port": 8443}},
	{"DELETE", "/api/nodes/delete", map[string]any{"nodeId": "n"}},
	// An unknown /api path needs a key too, so the API cannot be mapped
	// by probing without one.
	{"GET", "/api/no-such-endpoint", nil},
}

func TestEveryEndpointRejectsAMissingKey(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		for _, e := range everyEndpoint {
			r := p.send("", e.method, e.path, e.body)
			if r.code != http.StatusUnauthorized || string(r.body) != `{"error":"API key is required"}`+"\n" {
				t.Errorf("%s %s without key: %d %s, want 401 {\"error\":\"API key is required\"}", e.method, e.path, r.code, r.body)
			}
		}
		p.expectUnchanged(before)
	})
}

func TestEveryEndpointRejectsAnInvalidKey(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		wrong := []string{secret.NewToken("berth_"), p.key + "x", p.key[:len(p.key)-1], secret.Hash(p.key)}
		for _, e := range everyEndpoint {
			for _, key := range wrong {
				r := p.send(key, e.method, e.path, e.body)
				if r.code != http.StatusUnauthorized || string(r.body) != `{"error":"API key is invalid"}`+"\n" {
					t.Errorf("%s %s with a wrong key: %d %s, want 401 {\"error\":\"API key is invalid\"}", e.method, e.path, r.code, r.body)
				}
			}
		}
		p.expectUnchanged(before)
	})
}

func TestHealthzAnswers200WithoutKey(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		r := p.send("", "GET", "/healthz", nil)
		if r.code != 200 {
			t.Fatalf("GET /healthz: %d %s", r.code, r.body)
		}
		if m := r.object(t); m["status"] != "ok" {
			t.Errorf("GET /healthz body = %s, want status ok", r.body)
		}
	})
}

func TestUnknownPathAnswersJSON404(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.expectError(404, "GET", "/api/no-such-endpoint", nil, "no-such-endpoint")
		p.expectError(404, "POST", "/api/instances/suspend/extra/segments", nil)
		// /api/instances/{id} is a route (PATCH, an admin's change of an
		// instance, DESIGN §11), so a suspend without its id is the wrong
		// method there, and says which one is right.
		if r := p.call("POST", "/api/instances/suspend", nil); r.code != 405 || r.header.Get("Allow") != "PATCH" {
			t.Errorf("POST /api/instances/suspend: %d, Allow %q; want 405, Allow PATCH", r.code, r.header.Get("Allow"))
		}
		if r := p.send("", "GET", "/no-such-page", nil); r.code != 404 {
			t.Errorf("GET /no-such-page: %d, want 404", r.code)
		} else {
			r.errorMessage(t)
		}
	})
}

func TestWrongMethodAnswersJSON405(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		for _, c := range []struct{ method, path, allow string }{
			{"GET", "/api/instances/deploy", "POST"},
			{"POST", "/api/users", "GET"},
			{"PUT", "/api/nodes/create", "POST"},
			{"POST", "/api/instance/delete", "DELETE"},
			{"GET", "/api/instances/suspend/abc", "POST"},
		} {
			r := p.call(c.method, c.path, map[string]any{})
			if r.code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s, want 405", c.method, c.path, r.code, r.body)
				continue
			}
			r.errorMessage(t)
			if !strings.Contains(r.header.Get("Allow"), c.allow) {
				t.Errorf("%s %s: Allow = %q, want it to include %s", c.method, c.path, r.header.Get("Allow"), c.allow)
			}
		}
		if r := p.send("", "DELETE", "/healthz", nil); r.code != http.StatusMethodNotAllowed {
			t.Errorf("DELETE /healthz: %d, want 405", r.code)
		} else {
			r.errorMessage(t)
		}
		p.expectUnchanged(before)
	})
}

func TestBodyOver1MiBAnswers413(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user := p.createUser("alice")
		node, _ := p.createNode("n1", 8192, 10240)
		before := p.snapshot()
		big := strings.Repeat("a", 1<<20)
		p.expectError(413, "POST", "/api/auth/create-user",
			`{"username":"bob","email":"b@example.com","password":"correct horse","pad":"`+big+`"}`)
		body := deployBody(user, node, "25565", "25565")
		body["pad"] = big
		p.expectError(413, "POST", "/api/instances/deploy", body)
		p.expectUnchanged(before)

		// Just under the limit is read, and fails only on its content.
		almost := `{"pad":"` + strings.Repeat("a", 1<<20-len(`{"pad":""}`)) + `"}`
		p.expectError(400, "POST", "/api/auth/create-user", almost, "username")
	})
}

func TestMalformedBodyAnswers400NamingBody(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		for _, raw := range []string{`{"username":`, `[1,2]`, `"text"`, `null`, `{"a":1}{"b":2}`, `{'a':1}`} {
			msg := p.expectError(400, "POST", "/api/auth/create-user", raw, "body")
			if strings.Contains(msg, "internal") {
				t.Errorf("body %s: error %q", raw, msg)
			}
		}
		p.expectUnchanged(before)
	})
}

func TestPanicAnswers500WithoutDetails(t *testing.T) {
	// Kick is the panel's own callback into the reconciler: a panic there
	// stands for any panic in a handler.
	p := newPanel(t, panel.Config{Kick: func() { panic("secret detail of the crash") }})
	user := p.createUser("alice")
	node, _ := p.createNode("n1", 8192, 10240)
	r := p.call("POST", "/api/instances/deploy", deployBody(user, node, "25565", "25565"))
	if r.code != 500 {
		t.Fatalf("deploy with a panicking kick: %d %s, want 500", r.code, r.body)
	}
	msg := r.errorMessage(t)
	if strings.Contains(msg, "secret detail") || strings.Contains(msg, "goroutine") {
		t.Errorf("500 leaks the panic: %q", msg)
	}
	id := r.header.Get("X-Request-Id")
	if id == "" || !strings.Contains(msg, id) {
		t.Errorf("500 %q does not name its request id %q", msg, id)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "secret detail of the crash") || !strings.Contains(logs, id) {
		t.Errorf("the panic is not logged with its request id:\n%s", logs)
	}
}

func TestDatabaseFailureAnswers500WithoutDetails(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.st.Close()
	r := p.call("GET", "/api/users", nil)
	if r.code != 500 {
		t.Fatalf("GET /api/users on a closed database: %d %s, want 500", r.code, r.body)
	}
	msg := r.errorMessage(t)
	if strings.Contains(msg, "sql") || strings.Contains(msg, "closed") {
		t.Errorf("500 leaks internals: %q", msg)
	}
	if !strings.Contains(p.logs.String(), "closed") {
		t.Errorf("the cause of the 500 is not logged:\n%s", p.logs.String())
	}
	if r := p.send("", "GET", "/healthz", nil); r.code != 503 {
		t.Errorf("GET /healthz on a closed database: %d, want 503", r.code)
	}
}
