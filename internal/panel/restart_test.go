package panel_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/panel"
)

func TestEverythingSurvivesAPanelRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	p := newPanelOn(t, st, panel.Config{})
	user := p.createUser("olga")
	node, key := p.createNode("n1", 8192, 10240)
	body := deployBody(user, node, "25565:25565,25575", "25565:25565")
	body["variables"] = map[string]any{"EULA": "true"}
	inst := p.deploy(body)
	p.expect(200, "POST", "/api/instances/suspend/"+inst, nil)
	want := map[string]string{}
	for _, path := range []string{"/api/users", "/api/nodes", "/api/instances"} {
		want[path] = string(p.expect(200, "GET", path, nil).body)
	}
	auditBefore := p.snapshot().audit
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Same folder, new store and new server: the old API key still works.
	st2 := openStore(t, dir)
	p2 := newPanelOn(t, st2, panel.Config{})
	p2.key, p2.keyID = p.key, p.keyID
	for path, body := range want {
		if got := string(p2.expect(200, "GET", path, nil).body); got != body {
			t.Errorf("GET %s after restart:\n got %s\nwant %s", path, got, body)
		}
	}
	if s := p2.snapshot(); s.audit != auditBefore {
		t.Errorf("audit entries after restart = %d, want %d", s.audit, auditBefore)
	}
	// The port is still taken, the configure key still works once.
	p2.expectError(400, "POST", "/api/instances/deploy", deployBody(user, node, "25575", "25575"), "ports")
	if r := p2.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key}); r.code != 200 {
		t.Errorf("configure after restart: %d %s", r.code, r.body)
	}
	in := p2.expect(200, "POST", "/api/getInstance", map[string]any{"id": inst}).object(t)
	if in["suspended"] != true || in["Primary"] != "25565:25565" || in["Variables"].(map[string]any)["EULA"] != "true" {
		t.Errorf("instance after restart = %v", in)
	}
}
