package reconcile

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// passCounter counts each node's passes, as the reconciler's pass hook.
type passCounter struct {
	mu     sync.Mutex
	passes map[string]int
	// changed is signalled after every pass.
	changed chan struct{}
}

func newPassCounter() *passCounter {
	return &passCounter{passes: map[string]int{}, changed: make(chan struct{}, 1)}
}

func (p *passCounter) passed(nodeID string) {
	p.mu.Lock()
	p.passes[nodeID]++
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *passCounter) count(nodeID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.passes[nodeID]
}

// waitFor waits until node has made at least n passes.
func (p *passCounter) waitFor(t *testing.T, nodeID string, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for p.count(nodeID) < n {
		select {
		case <-p.changed:
		case <-deadline:
			t.Fatalf("node %s made %d pass(es), want %d", nodeID, p.count(nodeID), n)
		}
	}
}

// TestKickNodeWakesOnlyThatNodesWorker: a change on node a must cost a
// pass of a alone, not one of every node of the fleet. The interval is an
// hour, so every pass after the first comes from a kick.
func TestKickNodeWakesOnlyThatNodesWorker(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	startNode(t, st, "a")
	startNode(t, st, "b")
	counter := newPassCounter()
	r := New(Config{Store: st, Interval: time.Hour, passed: counter.passed})
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	counter.waitFor(t, "a", 1)
	counter.waitFor(t, "b", 1)
	for i := range 3 {
		r.KickNode("a")
		counter.waitFor(t, "a", 2+i)
	}
	r.KickNode("b")
	counter.waitFor(t, "b", 2)
	// b's worker made its first pass and the one its own kick asked for,
	// no more: a fleet-wide wake at each kick of a would have added its
	// own passes, which a's waits let finish.
	if got := counter.count("b"); got != 2 {
		t.Errorf("node b made %d passes after 3 kicks of a and 1 of b, want 2", got)
	}
	if got := counter.count("a"); got != 4 {
		t.Errorf("node a made %d passes, want 4", got)
	}

	// A node the reconciler has no worker for yet is found at once: its
	// kick falls back to the fleet's.
	startNode(t, st, "c")
	r.KickNode("c")
	counter.waitFor(t, "c", 1)
}

// TestPassOfAnUnchangedNodeWritesNoHealth: a node whose health is what
// the database says costs its pass no write until its last-seen time is
// SeenEvery old, so that 500 nodes' passes do not queue on the one writer.
func TestPassOfAnUnchangedNodeWritesNoHealth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	startNode(t, st, "a")
	counter := newPassCounter()
	r := New(Config{Store: st, Interval: time.Hour, SeenEvery: time.Hour, passed: counter.passed})
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	counter.waitFor(t, "a", 1)
	first, err := st.NodeByID(ctx, "a")
	if err != nil || first.Status != store.NodeOnline || first.LastSeen.IsZero() {
		t.Fatalf("node after its first pass = %+v, %v; want online and seen", first, err)
	}
	// Let the clock pass the millisecond the first pass wrote, so that a
	// write by the next passes would show.
	<-time.After(5 * time.Millisecond)
	for i := range 3 {
		r.KickNode("a")
		counter.waitFor(t, "a", 2+i)
	}
	again, err := st.NodeByID(ctx, "a")
	if err != nil || !again.LastSeen.Equal(first.LastSeen) {
		t.Errorf("last seen after 3 more passes = %v, %v; want it left at %v", again.LastSeen, err, first.LastSeen)
	}
}
