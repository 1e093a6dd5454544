package store_test

import (
	"fmt"
	"testing"
	"time"

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
