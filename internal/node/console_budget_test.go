package node

import (
	"context"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// TestConsoleFloodOfLongLinesStaysWithinTheHubsByteBudget replays the
// attack run on the fake runtime: a game printing 64 KiB lines as fast as
// the node takes them, watched by 8 consoles that never read and 4 that
// do. The throttle is lifted, so every line reaches the replay ring and
// the queues; what the hub holds must stay within its budget all along.
func TestConsoleFloodOfLongLinesStaysWithinTheHubsByteBudget(t *testing.T) {
	const (
		stalled, reading = 8, 4
		lines            = 2000
		lineBytes        = 64 << 10
	)
	rt := fake.New()
	d, err := New(Config{Dir: t.TempDir(), TokenSHA256: secret.Hash(testToken),
		ConsoleLineRate: 1 << 30, ConsoleByteRate: 1 << 40}, rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ensureOK(t, d, validSpec("loud"))
	s := d.sups.get("loud")

	budget := console.RingBytes + d.cfg.ConsoleConnections*(console.QueueBytes+console.ReplyBytes)
	held := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cons.hub.HeldBytes()
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range stalled + reading {
		c, replay, state, err := s.subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.unsubscribe(c) })
		if i < stalled {
			continue
		}
		wg.Go(func() {
			_ = c.Send(ctx, func(context.Context, []byte) error { return nil }, replay, state)
		})
	}

	goruntime.GC()
	var before goruntime.MemStats
	goruntime.ReadMemStats(&before)
	long := strings.Repeat("x", lineBytes-1) + "\n"
	peak := 0
	for i := range lines {
		if !rt.Print("loud", long) {
			t.Fatal("the game stopped printing")
		}
		if i%100 == 99 {
			peak = max(peak, held())
		}
	}
	peak = max(peak, held())
	if peak > budget {
		t.Errorf("the hub held %d bytes at its peak, over its budget of %d", peak, budget)
	}
	if peak < console.RingBytes {
		t.Errorf("the hub held only %d bytes: the flood did not fill the ring", peak)
	}
	// The heap, a second and coarser check: the flood was 125 MiB.
	goruntime.GC()
	var after goruntime.MemStats
	goruntime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4*int64(budget) {
		t.Errorf("the heap grew by %d MiB during the flood, budget %d MiB", grew>>20, budget>>20)
	}
	// Every line kept for replay was cut, with its marker.
	s.mu.Lock()
	replay := s.cons.hub.Replay()
	s.mu.Unlock()
	last := replay[len(replay)-1]
	if len(last) > console.MaxLineBytes+len(console.CutMarker) || !strings.HasSuffix(last, console.CutMarker) {
		t.Errorf("the last line kept is %d bytes, ending %q", len(last), last[max(len(last)-40, 0):])
	}
}
