package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// TestLeasesHandNodesOver: a node driven by a panel that died (its lease
// not renewed) goes to the running panel once the lease runs out, and a
// panel that stops lets go of its nodes, which the other takes at once.
func TestLeasesHandNodesOver(t *testing.T) {
	st, err := store.Open(t.Context(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	if err := st.CreateNode(t.Context(), store.Node{ID: "n1", Name: "n1", RAMMiB: 1024, DiskMiB: 1024,
		Address: "127.0.0.1", Port: 1, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now},
		secret.Hash(secret.NewToken("berth_cfg_")), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	const ttl = 600 * time.Millisecond
	// A panel that took the node and died: nobody renews its lease.
	if _, err := st.ClaimNodes(t.Context(), "dead", "10.0.0.9:8080", time.Now(), ttl); err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		n, err := st.NodeByID(t.Context(), "n1")
		if err != nil {
			t.Fatal(err)
		}
		return n.Lease.Holder
	}
	waitHolder := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for holder() != want {
			if time.Now().After(deadline) {
				t.Fatalf("holder = %q, want %q", holder(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	run := func(id string) context.CancelFunc {
		rec := reconcile.New(reconcile.Config{Store: st, Interval: 50 * time.Millisecond, LeaseTTL: ttl,
			PanelID: id, PanelAddress: id + ":8080"})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			rec.Run(ctx)
		}()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return stop
	}
	stopA := run("a")
	if h := holder(); h != "dead" && h != "a" {
		t.Fatalf("holder = %q", h)
	}
	waitHolder("a")
	run("b")
	// b runs beside a: a keeps renewing, so b never takes the node.
	for range 3 * int(ttl/(50*time.Millisecond)) {
		if h := holder(); h != "a" {
			t.Fatalf("holder = %q while a renews", h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopA()
	waitHolder("b")
}
