package panel_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// The panel's tests of what it asks of nodes run a real node daemon, on
// the in-memory runtime (nodetest), registered and configured as an
// admin would: the panel then speaks the whole protocol, generations
// included, to the daemon every real node runs.

// startNode starts a node daemon on the fake runtime and registers it as
// a configured node of p, returning the node's id and the daemon. Each
// option may change the daemon's configuration.
func startNode(t testing.TB, p *testPanel, options ...func(*node.Config)) (string, *nodetest.Node) {
	t.Helper()
	var id string
	n := nodetest.Start(t, func(port int) string {
		var token string
		id, token = registerNode(t, p, port)
		return token
	}, options...)
	return id, n
}

// registerNode creates a node of p at 127.0.0.1:port and configures it as
// `berth node configure` would, returning the node's id and the bearer
// token the panel will send it.
func registerNode(t testing.TB, p *testPanel, port int) (id, token string) {
	t.Helper()
	resp := configureNode(t, p, port)
	return resp.NodeID, resp.Token
}

// configureNode creates a node of p at 127.0.0.1:port and configures it,
// returning the panel's whole answer: the node's tokens both ways.
func configureNode(t testing.TB, p *testPanel, port int) nodeapi.ConfigureResponse {
	t.Helper()
	m := p.expect(201, "POST", "/api/nodes/create", map[string]any{
		"name": "test-node", "ram": 8192, "disk": 8192, "address": "127.0.0.1", "port": port}).object(t)
	key, _ := m["configureKey"].(string)
	conf := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key})
	var resp nodeapi.ConfigureResponse
	if conf.code != 200 || json.Unmarshal(conf.body, &resp) != nil || resp.Token == "" || resp.NodeID != m["id"] {
		t.Fatalf("configure node: %d %s", conf.code, conf.body)
	}
	return resp
}

// ensureOnNode has n apply instance id's current spec, as the
// reconciler's next pass would, and returns the node's answer. The spec
// is returned too, for a test to replay later.
func ensureOnNode(t testing.TB, p *testPanel, n *nodetest.Node, id string) (nodeapi.InstanceSpec, nodeapi.InstanceStatus) {
	t.Helper()
	ctx := context.Background()
	in, err := p.st.InstanceByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := dispatch.Spec(ctx, p.st, in)
	if err != nil {
		t.Fatal(err)
	}
	st, err := n.Client().EnsureInstance(ctx, spec)
	if err != nil {
		t.Fatalf("ensure %s on the node: %v", id, err)
	}
	return spec, st
}

// applyOnNode ensures instance id on n, running, and records it applied
// as the reconciler would: the instance is READY.
func applyOnNode(t testing.TB, p *testPanel, n *nodetest.Node, id string) nodeapi.InstanceSpec {
	t.Helper()
	spec, st := ensureOnNode(t, p, n, id)
	if st.Status != nodeapi.StatusRunning || st.Generation != spec.Generation {
		t.Fatalf("node applied %s as %+v, want running at generation %d", id, st, spec.Generation)
	}
	if err := p.st.MarkApplied(context.Background(), id, spec.Generation, st.Status, st.ContainerID); err != nil {
		t.Fatal(err)
	}
	return spec
}

// expectStaleEnsureIgnored sends the node stale, the spec a reconciler
// pass in flight before the panel's latest power action would send, and
// fails unless the node leaves the server as the action did (running or
// not): it ignores that ensure only when the action carried the newer
// generation the panel recorded its desire at.
func expectStaleEnsureIgnored(t *testing.T, n *nodetest.Node, stale nodeapi.InstanceSpec, running bool) {
	t.Helper()
	if _, err := n.Client().EnsureInstance(context.Background(), stale); err != nil {
		t.Fatalf("stale ensure at generation %d: %v", stale.Generation, err)
	}
	if c, _ := n.Runtime.Container(stale.ID); c.State.Running != running {
		t.Errorf("an ensure of generation %d, from before the power action, undid it (running: %v)",
			stale.Generation, c.State.Running)
	}
}

// dataDir is the data folder of instance id on n, the folder its
// server's files are in.
func dataDir(n *nodetest.Node, id string) string { return filepath.Join(n.Dir, "volumes", id) }

// waitUntil polls cond until it holds, failing the test after failBound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failBound)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
