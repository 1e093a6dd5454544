package panel_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// powerNode is a stub node that answers power requests and records them.
type powerNode struct {
	srv   *httptest.Server
	mu    sync.Mutex
	token string
	got   []nodeapi.PowerRequest
}

func newPowerNode(t *testing.T) *powerNode {
	t.Helper()
	n := &powerNode{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+n.token || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req nodeapi.PowerRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n.got = append(n.got, req)
		status := nodeapi.StatusRunning
		if req.Action == nodeapi.ActionStop || req.Action == nodeapi.ActionKill {
			status = nodeapi.StatusStopped
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(nodeapi.InstanceStatus{ID: r.PathValue("id"), Status: status, ContainerID: "c1"})
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// register creates the stub as a node of p, configured, and returns its id.
func (n *powerNode) register(t *testing.T, p *testPanel) string {
	t.Helper()
	_, portText, _ := net.SplitHostPort(n.srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	m := p.expect(201, "POST", "/api/nodes/create", map[string]any{
		"name": "stub", "ram": 8192, "disk": 8192, "address": "127.0.0.1", "port": port}).object(t)
	id, _ := m["id"].(string)
	key, _ := m["configureKey"].(string)
	conf := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key})
	var resp nodeapi.ConfigureResponse
	if conf.code != 200 || json.Unmarshal(conf.body, &resp) != nil || resp.Token == "" {
		t.Fatalf("configure stub node: %d %s", conf.code, conf.body)
	}
	n.mu.Lock()
	n.token = resp.Token
	n.mu.Unlock()
	return id
}

func TestPowerSendsTheGenerationItRecordedAndAnswersTheNewState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		stub := newPowerNode(t)
		node := stub.register(t, p)
		id := p.deploy(deployBody(p.createUser("owner"), node, "25565", "25565"))
		ctx := context.Background()
		in, err := p.st.InstanceByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// As the reconciler would: applied and READY.
		if err := p.st.MarkApplied(ctx, id, in.Generation, nodeapi.StatusRunning, "c1"); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct{ action, status string }{
			{nodeapi.ActionStop, nodeapi.StatusStopped},
			{nodeapi.ActionKill, nodeapi.StatusStopped},
		} {
			m := p.expect(200, "POST", "/api/instances/power/"+id, map[string]any{"action": tc.action}).object(t)
			if m["Status"] != tc.status {
				t.Errorf("power %s answered Status %v, want %s", tc.action, m["Status"], tc.status)
			}
			in, err := p.st.InstanceByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			stub.mu.Lock()
			last := stub.got[len(stub.got)-1]
			stub.mu.Unlock()
			// The generation the desire was recorded at, so the node can
			// tell an older ensure from the reconciler.
			if last.Action != tc.action || last.Generation != in.Generation || in.Generation == 0 {
				t.Errorf("node got %+v, want %s at generation %d", last, tc.action, in.Generation)
			}
			if in.Desired != nodeapi.DesiredStopped || in.Status != tc.status {
				t.Errorf("after %s: desired %s, status %s", tc.action, in.Desired, in.Status)
			}
		}
	})
}
