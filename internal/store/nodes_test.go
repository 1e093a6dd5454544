package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// testConcurrentEnsureLocalNodeMakesOne: starts racing to register the
// local node all get the one node, with its token.
func testConcurrentEnsureLocalNodeMakesOne(t *testing.T, db database) {
	st := db(t)
	got := make([]store.Node, 6)
	errs := race(len(got), func(i int) error {
		var err error
		got[i], err = st.EnsureLocalNode(ctx, store.Node{ID: fmt.Sprint("local-", i), Name: "local", Tags: "local",
			Address: "127.0.0.1", Port: 8081, Scheme: "http", Status: store.NodeUnconfigured,
			Token: fmt.Sprint("token-", i), CreatedAt: time.Now()})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if got[i].ID != got[0].ID || got[i].Token != got[0].Token || got[i].Token == "" {
			t.Errorf("start %d got node %s with token %q, start 0 got %s with %q", i, got[i].ID, got[i].Token, got[0].ID, got[0].Token)
		}
	}
	nodes, err := st.ListNodes(ctx)
	if err != nil || len(nodes) != 1 {
		t.Errorf("nodes = %d, %v; want one", len(nodes), err)
	}
}

// testDeployAboveTheNodesCoresIsInvalid: a deploy asking for more CPU
// cores than its node reported is refused at once, naming cpu, rather than
// left to fail on the node after the install timeout. A node that never
// reported its cores is given the deploy.
func testDeployAboveTheNodesCoresIsInvalid(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	in := instance(t, "unknown-cores", "u", "n", "80")
	in.CPU = 64
	mustCreate(t, st, in)
	if err := st.SetNodeHealth(ctx, "n", store.NodeOnline, "v1", 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := st.NodeByID(ctx, "n"); err != nil || n.CPUs != 2 {
		t.Fatalf("node cores = %d, %v; want 2", n.CPUs, err)
	}
	in = instance(t, "too-many", "u", "n", "81")
	in.CPU = 2.5
	expectFault(t, "cpu above the node's cores", st.CreateInstance(ctx, in), fault.Invalid, "cpu")
	in = instance(t, "all-of-them", "u", "n", "82")
	in.CPU = 2
	mustCreate(t, st, in)
	// A report without cores (an older node) keeps the last count.
	if err := st.SetNodeHealth(ctx, "n", store.NodeOnline, "v2", 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := st.NodeByID(ctx, "n"); err != nil || n.CPUs != 2 || n.Version != "v2" {
		t.Errorf("node after a report without cores = %d cores, version %q, %v; want 2 and v2", n.CPUs, n.Version, err)
	}
}
