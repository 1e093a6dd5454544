package panel_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
)

// TestSecretsNeverLeave calls every endpoint, successes and failures, and
// checks that no answer but the one that creates a secret carries it, and
// that the request log carries none.
func TestSecretsNeverLeave(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		const password = "hunter2-correct-horse"
		type answer struct {
			what string
			r    response
		}
		var answers []answer
		record := func(what string, r response) response {
			t.Helper()
			answers = append(answers, answer{what, r})
			return r
		}
		call := func(method, path string, body any) response {
			t.Helper()
			return record(method+" "+path, p.call(method, path, body))
		}

		user := call("POST", "/api/auth/create-user", map[string]any{"username": "ann", "email": "ann@example.com", "password": password, "admin": true}).object(t)["userId"].(string)
		call("POST", "/api/auth/create-user", url.Values{"username": {"ben"}, "email": {"ben@example.com"}, "password": {password}})
		call("POST", "/api/auth/create-user", map[string]any{"username": "ANN", "email": "x@example.com", "password": password})
		call("POST", "/api/auth/create-user", map[string]any{"username": "short", "email": "s@example.com", "password": "short"})
		call("GET", "/api/users", nil)
		call("POST", "/api/getUser", map[string]any{"type": "username", "value": "ann"})
		call("POST", "/api/getUser", map[string]any{"type": "email", "value": "ann@example.com"})
		call("POST", "/api/getUser", map[string]any{"type": "email", "value": "nobody@example.com"})

		// The two nodes/create answers are the only ones allowed to carry
		// their configure key; they are checked apart.
		nodeBody := map[string]any{"name": "n1", "ram": "8G", "disk": "20G", "address": "10.0.0.1", "port": 8443}
		created1 := p.expect(201, "POST", "/api/nodes/create", nodeBody)
		nodeBody["name"] = "n2"
		created2 := p.expect(201, "POST", "/api/nodes/create", nodeBody)
		node1, key1 := created1.object(t)["id"].(string), created1.object(t)["configureKey"].(string)
		node2, key2 := created2.object(t)["id"].(string), created2.object(t)["configureKey"].(string)
		if !strings.Contains(string(created1.body), key1) || !strings.Contains(created1.object(t)["configureCommand"].(string), key1) {
			t.Fatalf("nodes/create does not return its configure key: %s", created1.body)
		}
		for _, c := range []struct {
			r     response
			other string
		}{{created1, key2}, {created2, key1}} {
			if strings.Contains(string(c.r.body), c.other) || strings.Contains(string(c.r.body), p.key) ||
				strings.Contains(string(c.r.body), "$argon2id") {
				t.Errorf("a nodes/create answer carries another secret: %s", c.r.body)
			}
		}

		// The configure answer is the one that creates the node token.
		configured := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key1})
		if configured.code != 200 {
			t.Fatalf("configure: %d %s", configured.code, configured.body)
		}
		token := configured.object(t)["token"].(string)
		if strings.Contains(string(configured.body), key1) || strings.Contains(string(configured.body), p.key) {
			t.Errorf("the configure answer carries a key: %s", configured.body)
		}
		record("POST /nodes/configure (used key)", p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key1}))

		call("GET", "/api/nodes", nil)
		deploy := deployBody(user, node1, "25565", "25565")
		deploy["variables"] = map[string]any{"EULA": "true"}
		inst := call("POST", "/api/instances/deploy", deploy).object(t)["instance"].(map[string]any)["Id"].(string)
		call("POST", "/api/instances/deploy", deployBody(user, node1, "25565", "25565"))
		call("POST", "/api/instances/deploy", deployBody(user, node2, "1:2:3", "1"))
		call("GET", "/api/instances", nil)
		call("POST", "/api/getInstance", map[string]any{"id": inst})
		call("POST", "/api/getUserInstance", map[string]any{"userId": user})
		call("POST", "/api/instances/suspend/"+inst, nil)
		call("POST", "/api/instances/unsuspend/"+inst, nil)
		call("GET", "/api/images", nil)
		call("DELETE", "/api/nodes/delete", map[string]any{"nodeId": node1})
		call("DELETE", "/api/instance/delete", map[string]any{"id": inst})
		call("DELETE", "/api/nodes/delete", map[string]any{"nodeId": node2})
		call("GET", "/api/nodes", nil)
		call("GET", "/api/no-such-endpoint", nil)
		call("GET", "/api/instances/deploy", nil)
		call("POST", "/api/auth/create-user", `{"broken`)
		record("GET /api/users without key", p.send("", "GET", "/api/users", nil))
		record("GET /api/users with a wrong key", p.send(p.key+"x", "GET", "/api/users", nil))
		record("GET /healthz", p.send("", "GET", "/healthz", nil))
		record("GET /api/openapi.json", p.send("", "GET", "/api/openapi.json", nil))

		// User and key management. The POST /api/keys answer is the only
		// one allowed to carry its key; it is checked apart.
		call("PATCH", "/api/users/"+user, map[string]any{"password": password + "-new", "email": "ann2@example.com"})
		call("PATCH", "/api/users/"+user, map[string]any{"password": "short"})
		call("GET", "/api/keys", nil)
		issued := p.expect(201, "POST", "/api/keys", map[string]any{"name": "second"})
		newKey, newKeyID := issued.object(t)["key"].(string), issued.object(t)["id"].(string)
		if strings.Contains(string(issued.body), p.key) || strings.Contains(string(issued.body), secret.Hash(newKey)) {
			t.Errorf("the POST /api/keys answer carries another secret: %s", issued.body)
		}
		call("GET", "/api/keys", nil)
		call("DELETE", "/api/keys/"+newKeyID, nil)
		call("DELETE", "/api/keys/"+p.keyID, nil)
		call("DELETE", "/api/users/"+user, nil)

		secrets := map[string]string{
			"a password hash":          "$argon2id",
			"the password":             password,
			"the API key":              p.key,
			"the API key's hash":       secret.Hash(p.key),
			"node 1's configure key":   key1,
			"node 2's configure key":   key2,
			"a configure key hash":     secret.Hash(key1),
			"node 1's token":           token,
			"a configure key's prefix": "berth_cfg_",
			"a node token's prefix":    "berth_node_",
			"the new password":         password + "-new",
			"the issued API key":       newKey,
			"the issued key's hash":    secret.Hash(newKey),
		}
		for _, a := range answers {
			for name, s := range secrets {
				if strings.Contains(string(a.r.body), s) {
					t.Errorf("%s (%d) answers %s: %s", a.what, a.r.code, name, a.r.body)
				}
			}
		}
		logs := p.logs.String()
		if !strings.Contains(logs, "/api/instances/deploy") {
			t.Fatalf("the request log is empty or lacks requests:\n%s", logs)
		}
		for name, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("the request log holds %s", name)
			}
		}
	})
}

// TestSecretsNeverLeaveInA500 checks the log of a failure, where the
// temptation to print everything is strongest.
func TestSecretsNeverLeaveInA500(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.st.Close()
	r := p.call("POST", "/api/auth/create-user", map[string]any{"username": "a", "email": "a@example.com", "password": "correct horse"})
	if r.code != 500 {
		t.Fatalf("create-user on a closed database: %d %s", r.code, r.body)
	}
	for _, s := range []string{p.key, secret.Hash(p.key), "correct horse"} {
		if strings.Contains(p.logs.String(), s) || strings.Contains(string(r.body), s) {
			t.Errorf("a 500 leaks %q:\n%s\n%s", s, r.body, p.logs.String())
		}
	}
}
