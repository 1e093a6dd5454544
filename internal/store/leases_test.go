package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// leaseSuite is the tests of what lets several panels share a database.
var leaseSuite = []struct {
	name string
	test func(t *testing.T, db database)
}{
	{"NodeLeasesGoToOnePanelAndPassWhenTheyRunOut", testNodeLeases},
	{"ConcurrentClaimsNeverShareANode", testConcurrentClaims},
}

func testNodeLeases(t *testing.T, db database) {
	st := db(t)
	addNode(t, st, "n1", 4096, 4096, false)
	addNode(t, st, "n2", 4096, 4096, false)
	now := time.UnixMilli(1_700_000_000_000)
	const ttl = 10 * time.Second

	held, err := st.ClaimNodes(ctx, "p1", "10.0.0.1:8080", now, ttl)
	if err != nil || !slices.Equal(sorted(held), []string{"n1", "n2"}) {
		t.Fatalf("p1's first claim = %v, %v; want both nodes", held, err)
	}
	held, err = st.ClaimNodes(ctx, "p2", "10.0.0.2:8080", now.Add(time.Second), ttl)
	if err != nil || len(held) != 0 {
		t.Fatalf("p2's claim while p1 holds = %v, %v; want none", held, err)
	}
	// p1 renews: its leases stay, with the time it took them.
	if held, err = st.ClaimNodes(ctx, "p1", "10.0.0.1:8080", now.Add(8*time.Second), ttl); err != nil || len(held) != 2 {
		t.Fatalf("p1's renewal = %v, %v", held, err)
	}
	n, err := st.NodeByID(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Lease.Holder != "p1" || n.Lease.Address != "10.0.0.1:8080" || !n.Lease.Since.Equal(now) ||
		!n.Lease.Expires.Equal(now.Add(18*time.Second)) || !n.Lease.Live(now.Add(17*time.Second)) {
		t.Fatalf("n1's lease = %+v", n.Lease)
	}
	// p1 stops renewing (its process died): p2 takes both once they run out.
	if held, _ = st.ClaimNodes(ctx, "p2", "10.0.0.2:8080", now.Add(17*time.Second), ttl); len(held) != 0 {
		t.Fatalf("p2 took %v before p1's leases ran out", held)
	}
	later := now.Add(19 * time.Second)
	if held, err = st.ClaimNodes(ctx, "p2", "10.0.0.2:8080", later, ttl); err != nil || len(held) != 2 {
		t.Fatalf("p2's claim after p1's leases ran out = %v, %v", held, err)
	}
	if n, _ = st.NodeByID(ctx, "n2"); n.Lease.Holder != "p2" || !n.Lease.Since.Equal(later) {
		t.Fatalf("n2's lease after the takeover = %+v", n.Lease)
	}
	// p1 comes back: it holds nothing now.
	if held, _ = st.ClaimNodes(ctx, "p1", "10.0.0.1:8080", later.Add(time.Second), ttl); len(held) != 0 {
		t.Fatalf("p1 still holds %v after p2 took over", held)
	}
	// p2 shuts down and releases: p1 takes over at once.
	if err := st.ReleaseNodes(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if n, _ = st.NodeByID(ctx, "n1"); n.Lease.Live(later) {
		t.Fatalf("a released lease is live: %+v", n.Lease)
	}
	if held, _ = st.ClaimNodes(ctx, "p1", "10.0.0.1:8080", later.Add(2*time.Second), ttl); len(held) != 2 {
		t.Fatalf("p1 after p2's release holds %v", held)
	}
}

func testConcurrentClaims(t *testing.T, db database) {
	st := db(t)
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		addNode(t, st, id, 1024, 1024, false)
	}
	// Several panels, each with its own connections, claim at once.
	panels := []string{"p1", "p2", "p3", "p4"}
	stores := make([]*store.Store, len(panels))
	for i := range panels {
		stores[i] = db(t)
	}
	now := time.UnixMilli(1_700_000_000_000)
	got := make([][]string, len(panels))
	var wg sync.WaitGroup
	for i, p := range panels {
		wg.Go(func() {
			held, err := stores[i].ClaimNodes(ctx, p, p, now, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			got[i] = held
		})
	}
	wg.Wait()
	seen := map[string]string{}
	for i, held := range got {
		for _, id := range held {
			if other, ok := seen[id]; ok {
				t.Fatalf("node %s claimed by %s and %s", id, other, panels[i])
			}
			seen[id] = panels[i]
		}
	}
	if len(seen) != 6 {
		t.Fatalf("claimed %d of 6 nodes: %v", len(seen), got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestListenHearsOtherPanelsWrites: on PostgreSQL, a write through one
// store reaches another store's Listen, naming the table and bumping its
// Version; the writer does not hear its own echo, and a bookkeeping write
// (a node's last contact) is not announced.
func TestListenHearsOtherPanelsWrites(t *testing.T) {
	base := storetest.SkipWithoutPostgres(t)
	if base == "" {
		return
	}
	db := storetest.NewPostgres(t, base)
	a, b := db(t), db(t)
	addNode(t, a, "n", 1024, 1024, false)

	heard := func(st *store.Store) (<-chan string, context.CancelFunc) {
		ch := make(chan string, 64)
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := st.Listen(lctx, func(table, node string) { ch <- table + node }); err != nil {
				t.Error(err)
			}
		}()
		t.Cleanup(func() { cancel(); <-done })
		if first := <-ch; first != "" {
			t.Fatalf("Listen's first call = %q, want \"\"", first)
		}
		return ch, cancel
	}
	fromB, _ := heard(b)
	fromA, _ := heard(a)

	before := b.Version()
	addUser(t, a, "someone")
	select {
	case table := <-fromB:
		if table != "users" {
			t.Fatalf("b heard %q, want users", table)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b heard nothing of a's write within 10s")
	}
	if b.Version() == before {
		t.Fatal("b's Version did not move")
	}
	// next returns what b hears before the announcement of a user that a
	// creates after whatever it did before.
	next := func(sentinel string) []string {
		t.Helper()
		addUser(t, a, sentinel)
		var heard []string
		for {
			select {
			case table := <-fromB:
				if table == "users" {
					return heard
				}
				heard = append(heard, table)
			case <-time.After(10 * time.Second):
				t.Fatalf("b heard nothing of a's user %s within 10s (heard %v)", sentinel, heard)
			}
		}
	}
	// A node's status change is announced.
	if err := a.SetNodeHealth(ctx, "n", "Online", "v", 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if heard := next("after-status"); len(heard) == 0 || slices.ContainsFunc(heard, func(s string) bool { return s != "nodes" }) {
		t.Fatalf("b heard %v of a node's status change, want nodes", heard)
	}
	// Bookkeeping, a node's last contact alone, is not.
	if err := a.SetNodeHealth(ctx, "n", "Online", "v", 2, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if heard := next("after-touch"); len(heard) != 0 {
		t.Fatalf("b heard %v of a last-seen touch, want nothing", heard)
	}
	// Nor are b's own writes, to b.
	addUser(t, b, "another")
	select {
	case table := <-fromA:
		if table != "users" {
			t.Fatalf("a heard %q, want users", table)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a heard nothing of b's write within 10s")
	}
	if heard := next("after-own"); len(heard) != 0 {
		t.Fatalf("b heard %v of its own write, want nothing", heard)
	}
}
