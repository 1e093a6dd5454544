package panel_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
)

var nodeFields = []string{"id", "name", "tags", "ram", "disk", "processor", "address", "port", "status", "lastSeen", "version"}

// secretNodeFields are names under which a node credential could slip out.
var secretNodeFields = []string{"token", "Token", "configureKey", "configureCommand", "configureKeyHash", "configure_key_hash"}

func TestCreateNodeAnswers201WithConfigureKeyAndCommand(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		r := p.expect(201, "POST", "/api/nodes/create", map[string]any{
			"name": "fra-1", "tags": "eu,ssd", "ram": "8G", "disk": "100G", "processor": "EPYC", "address": "node1.example.com", "port": "8443"})
		n := r.object(t)
		hasKeys(t, "created node", n, append(nodeFields, "configureKey", "configureCommand")...)
		if n["name"] != "fra-1" || n["tags"] != "eu,ssd" || n["ram"] != float64(8192) || n["disk"] != float64(102400) ||
			n["processor"] != "EPYC" || n["address"] != "node1.example.com" || n["port"] != float64(8443) || n["status"] != "Unconfigured" {
			t.Errorf("created node = %v", n)
		}
		key, _ := n["configureKey"].(string)
		cmd, _ := n["configureCommand"].(string)
		if !strings.HasPrefix(key, "berth_cfg_") || len(key) < 40 {
			t.Errorf("configureKey = %q, want a berth_cfg_ token", key)
		}
		if !strings.Contains(cmd, "berth node configure") || !strings.Contains(cmd, "-key "+key) || !strings.Contains(cmd, "-panel http://example.com") {
			t.Errorf("configureCommand = %q, want it to configure with the key against this panel", cmd)
		}
		p.expectAudit("node.create", n["id"].(string))
	})
}

func TestCreateNodeUsesThePublicURLInTheConfigureCommand(t *testing.T) {
	p := newPanel(t, panel.Config{PublicURL: "https://panel.example.net/"})
	r := p.expect(201, "POST", "/api/nodes/create", map[string]any{"name": "n", "ram": 1024, "disk": 1024, "address": "10.0.0.2", "port": 8443})
	if cmd := r.object(t)["configureCommand"].(string); !strings.Contains(cmd, "-panel https://panel.example.net -key") {
		t.Errorf("configureCommand = %q, want the public URL without its trailing slash", cmd)
	}
}

func TestCreateNodeReadsRAMAndDiskInMiBOrWithAUnit(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		for _, c := range []struct {
			ram  any
			want float64
		}{
			{"8G", 8192}, {"8192M", 8192}, {8192, 8192}, {"8192", 8192}, {"8 GiB", 8192}, {"8gb", 8192}, {"1T", 1 << 20}, {"0.5G", 512},
		} {
			n := p.expect(201, "POST", "/api/nodes/create", map[string]any{
				"name": "n", "ram": c.ram, "disk": c.ram, "address": "10.0.0.1", "port": 8443}).object(t)
			if n["ram"] != c.want || n["disk"] != c.want {
				t.Errorf("ram/disk %v: got %v/%v MiB, want %v", c.ram, n["ram"], n["disk"], c.want)
			}
		}
		form := p.expect(201, "POST", "/api/nodes/create", url.Values{
			"name": {"form"}, "ram": {"4G"}, "disk": {"4096"}, "address": {"10.0.0.1"}, "port": {"8443"}}).object(t)
		if form["ram"] != float64(4096) || form["disk"] != float64(4096) || form["port"] != float64(8443) {
			t.Errorf("form-created node = %v", form)
		}
	})
}

func TestCreateNodeRejectsMissingOrBadFieldsNamingThem(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		valid := func() map[string]any {
			return map[string]any{"name": "n", "ram": "8G", "disk": "100G", "address": "10.0.0.1", "port": 8443}
		}
		for _, field := range []string{"name", "ram", "disk", "address", "port"} {
			body := valid()
			delete(body, field)
			p.expectError(400, "POST", "/api/nodes/create", body, field, "required")
		}
		for _, c := range []struct {
			field string
			value any
		}{
			{"ram", "lots"}, {"ram", "0"}, {"ram", -5}, {"ram", "8X"}, {"disk", "NaN"}, {"disk", "1e30"},
			{"address", "http://10.0.0.1"}, {"address", "10.0.0.1:8443"}, {"address", "bad host"},
			{"port", 0}, {"port", 70000}, {"port", "http"}, {"port", 84.5},
			{"scheme", "ftp"},
		} {
			body := valid()
			body[c.field] = c.value
			p.expectError(400, "POST", "/api/nodes/create", body, c.field)
		}
		p.expectUnchanged(before)
	})
}

func TestListNodesAnswersEveryNodeWithoutSecrets(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		if got := p.expect(200, "GET", "/api/nodes", nil).array(t); len(got) != 0 {
			t.Fatalf("nodes of a new panel = %v, want []", got)
		}
		a, _ := p.createNode("a", 8192, 10240)
		b, _ := p.createNode("b", 4096, 10240)
		list := p.expect(200, "GET", "/api/nodes", nil).array(t)
		byID := indexBy(t, list, "id")
		if len(list) != 2 || byID[a] == nil || byID[b] == nil {
			t.Fatalf("nodes = %v, want a and b", list)
		}
		for _, n := range list {
			hasKeys(t, "node", n, nodeFields...)
			lacksKeys(t, "node", n, secretNodeFields...)
		}
		if n := byID[b]; n["ram"] != float64(4096) || n["status"] != "Unconfigured" || n["lastSeen"] != nil {
			t.Errorf("node b = %v", n)
		}
	})
}

func TestDeleteNodeAnswersPerModeAndRemovesIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		keep, _ := p.createNode("keep", 8192, 10240)
		gone, _ := p.createNode("gone", 8192, 10240)
		r := p.expect(modeCodes[p.mode].nodeDeleted, "DELETE", "/api/nodes/delete", map[string]any{"nodeId": gone})
		if msg, _ := r.object(t)["message"].(string); msg == "" {
			t.Errorf("nodes/delete answered no message: %s", r.body)
		}
		p.expectAudit("node.delete", gone)
		list := p.expect(200, "GET", "/api/nodes", nil).array(t)
		if len(list) != 1 || list[0]["id"] != keep {
			t.Errorf("nodes after delete = %v, want only keep", list)
		}
	})
}

func TestDeleteNodeRejectsMissingOrUnknownId(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.createNode("n", 8192, 10240)
		before := p.snapshot()
		p.expectError(400, "DELETE", "/api/nodes/delete", map[string]any{}, "nodeId", "required")
		p.expectError(400, "DELETE", "/api/nodes/delete", nil, "nodeId", "required")
		p.expectError(modeCodes[p.mode].notFound, "DELETE", "/api/nodes/delete", map[string]any{"nodeId": "no-such-node"}, "not found")
		p.expectUnchanged(before)
	})
}

func TestDeleteNodeAnswers409WhileInstancesAreOnIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user := p.createUser("kim")
		node, _ := p.createNode("n", 8192, 10240)
		inst := p.deploy(deployBody(user, node, "25565", "25565"))
		before := p.snapshot()
		p.expectError(409, "DELETE", "/api/nodes/delete", map[string]any{"nodeId": node}, "instance")
		p.expectUnchanged(before)

		// Once its instances are gone, a node never configured has nothing
		// left to clean up and can go.
		p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": inst})
		p.expect(modeCodes[p.mode].nodeDeleted, "DELETE", "/api/nodes/delete", map[string]any{"nodeId": node})
		if got := p.expect(200, "GET", "/api/nodes", nil).array(t); len(got) != 0 {
			t.Errorf("nodes after delete = %v, want none", got)
		}
	})
}

func TestDeleteNodeAnswers409WhileAConfiguredNodeOwesARemoval(t *testing.T) {
	p := newPanel(t, panel.Config{})
	user := p.createUser("kim")
	node, key := p.createNode("n", 8192, 10240)
	if r := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key}); r.code != 200 {
		t.Fatalf("configure: %d %s", r.code, r.body)
	}
	inst := p.deploy(deployBody(user, node, "25565", "25565"))
	p.expect(201, "DELETE", "/api/instance/delete", map[string]any{"id": inst})
	p.expectError(409, "DELETE", "/api/nodes/delete", map[string]any{"nodeId": node}, "removal")
	if err := p.st.CompleteRemoval(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	p.expect(201, "DELETE", "/api/nodes/delete", map[string]any{"nodeId": node})
}

func TestConfigureKeyWorksOnceAndOutsideTheAPIKey(t *testing.T) {
	p := newPanel(t, panel.Config{})
	node, key := p.createNode("n", 8192, 10240)
	r := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key})
	if r.code != 200 {
		t.Fatalf("configure: %d %s", r.code, r.body)
	}
	m := r.object(t)
	if m["nodeId"] != node || !strings.HasPrefix(m["token"].(string), "berth_node_") {
		t.Errorf("configure answer = %v, want the node's id and a berth_node_ token", m)
	}
	for _, k := range []string{key, "berth_cfg_wrong", ""} {
		if r := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": k}); r.code != 403 && r.code != 400 {
			t.Errorf("configure with %q after use: %d %s, want 403 (or 400 for empty)", k, r.code, r.body)
		}
	}
}

func TestRenewedConfigureKeyReplacesTheOldOne(t *testing.T) {
	p := newPanel(t, panel.Config{})
	node, old := p.createNode("n", 8192, 10240)
	m := p.expect(200, "POST", "/api/nodes/configure-key/"+node, nil).object(t)
	key, _ := m["configureKey"].(string)
	if !strings.HasPrefix(key, "berth_cfg_") || key == old || m["id"] != node ||
		!strings.Contains(m["configureCommand"].(string), key) {
		t.Fatalf("renew answered %v, want the node with a new key and its command", m)
	}
	p.expectAudit("node.configure-key", node)
	if r := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": old}); r.code != 403 {
		t.Errorf("configure with the replaced key: %d %s, want 403", r.code, r.body)
	}
	if r := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key}); r.code != 200 {
		t.Errorf("configure with the renewed key: %d %s, want 200", r.code, r.body)
	}
	p.expectError(404, "POST", "/api/nodes/configure-key/no-such-node", nil, "Node")
}
