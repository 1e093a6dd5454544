package panel_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// stubNode answers a node's install-log endpoint with log, recording the
// queries it was asked.
type stubNode struct {
	srv   *httptest.Server
	mu    sync.Mutex
	token string
	asked []string
	log   nodeapi.InstallLog
}

func newStubNode(t *testing.T, log nodeapi.InstallLog) *stubNode {
	t.Helper()
	n := &stubNode{log: log}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+n.token || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		n.asked = append(n.asked, r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(n.log)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// register creates the stub as a node of p and configures it, returning
// the node's id.
func (n *stubNode) register(t *testing.T, p *testPanel) string {
	t.Helper()
	id, token := registerStub(t, p, n.srv)
	n.mu.Lock()
	n.token = token
	n.mu.Unlock()
	return id
}

// registerStub creates srv, a stub node on loopback, as a node of p and
// configures it as `berth node configure` would, returning the node's id
// and the bearer token the panel will send it.
func registerStub(t *testing.T, p *testPanel, srv *httptest.Server) (id, token string) {
	t.Helper()
	_, portText, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	m := p.expect(201, "POST", "/api/nodes/create", map[string]any{
		"name": "stub", "ram": 8192, "disk": 8192, "address": "127.0.0.1", "port": port}).object(t)
	id, _ = m["id"].(string)
	key, _ := m["configureKey"].(string)
	conf := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key})
	var resp nodeapi.ConfigureResponse
	if conf.code != 200 || json.Unmarshal(conf.body, &resp) != nil || resp.Token == "" {
		t.Fatalf("configure stub node: %d %s", conf.code, conf.body)
	}
	return id, resp.Token
}

func TestInstallLogAnswersTheNodesInstallLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		stub := newStubNode(t, nodeapi.InstallLog{Lines: []string{"[berth] install started", "exit 3"},
			Error: "install script exited with code 3"})
		node := stub.register(t, p)
		user := p.createUser("owner")
		id := p.deploy(deployBody(user, node, "25565", "25565"))

		m := p.expect(200, "GET", "/api/instances/install-log/"+id+"?tail=7", nil).object(t)
		hasKeys(t, "install log", m, "id", "lines", "installing", "installed", "error")
		lines, _ := m["lines"].([]any)
		if m["id"] != id || len(lines) != 2 || lines[1] != "exit 3" || m["error"] != "install script exited with code 3" ||
			m["installing"] != false || m["installed"] != false {
			t.Errorf("install log = %v", m)
		}
		p.expect(200, "GET", "/api/instances/install-log/"+id, nil)
		stub.mu.Lock()
		asked := slices.Clone(stub.asked)
		stub.mu.Unlock()
		want := []string{
			"/v1/instances/" + id + "/install-log?tail=7",
			"/v1/instances/" + id + "/install-log?tail=" + strconv.Itoa(nodeapi.DefaultInstallLogTail),
		}
		if !slices.Equal(asked, want) {
			t.Errorf("node was asked %q, want %q", asked, want)
		}
	})
}

func TestInstallLogRejectsBadRequests(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		id := p.deploy(deployBody(user, node, "25565", "25565"))
		before := p.snapshot()
		if r := p.send("", "GET", "/api/instances/install-log/"+id, nil); r.code != 401 {
			t.Errorf("without a key: %d %s, want 401", r.code, r.body)
		}
		for _, q := range []string{"?tail=", "?tail=0", "?tail=-1", "?tail=abc", "?tail=5001"} {
			p.expectError(400, "GET", "/api/instances/install-log/"+id+q, nil, "tail")
		}
		p.expectError(400, "GET", "/api/instances/install-log/a%00b", nil, "id")
		p.expectError(404, "GET", "/api/instances/install-log/no-such-instance", nil, "not found")
		// The node of setup was never configured: it cannot be asked.
		p.expectError(503, "GET", "/api/instances/install-log/"+id, nil, "not configured")
		p.expectError(405, "POST", "/api/instances/install-log/"+id, nil)
		p.expectUnchanged(before)
	})
}
