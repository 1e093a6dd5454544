package panel_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// twoPanels is two panels on one PostgreSQL database, the second hearing
// the first's changes through LISTEN as `berth panel` wires it.
func twoPanels(t testing.TB) (a, b *testPanel) {
	t.Helper()
	base := storetest.SkipWithoutPostgres(t)
	if base == "" {
		t.SkipNow()
	}
	db := storetest.NewPostgres(t, base)
	a = newPanelOn(t, db(t), panel.Config{})
	b = newPanelOn(t, db(t), panel.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	heard := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.st.Listen(ctx, func(table, _ string) {
			b.server.Changed(table)
			select {
			case heard <- table:
			default:
			}
		}); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-heard // b listens
	return a, b
}

// within polls ok until it holds, failing after limit: DESIGN §13's bound
// for a write on one panel to show on the others.
func within(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSecondPanelSeesWritesAndRevocationsWithinASecond: panel b has cached
// the user list and a's key; a creates a user and revokes a key; b shows
// the user and refuses the key within a second, not when its caches age
// out.
func TestSecondPanelSeesWritesAndRevocationsWithinASecond(t *testing.T) {
	a, b := twoPanels(t)
	if n := len(b.expect(http.StatusOK, "GET", "/api/users", nil).array(t)); n != 0 {
		t.Fatalf("b lists %d users, want 0", n)
	}
	// b caches a's key as it serves it.
	if r := b.send(a.key, "GET", "/api/users", nil); r.code != http.StatusOK {
		t.Fatalf("a's key on b: %d", r.code)
	}
	a.createUser("ana")
	within(t, time.Second, "a's new user listed on b", func() bool {
		return len(b.expect(http.StatusOK, "GET", "/api/users", nil).array(t)) == 1
	})
	a.expect(http.StatusNoContent, "DELETE", "/api/keys/"+a.keyID, nil)
	within(t, time.Second, "a's revoked key refused on b", func() bool {
		return b.send(a.key, "GET", "/api/users", nil).code == http.StatusUnauthorized
	})
}

// TestNodesShowWhichPanelDrivesThem: GET /api/nodes names the panel that
// holds a node's lease, and null once nobody does.
func TestNodesShowWhichPanelDrivesThem(t *testing.T) {
	p := newPanel(t, panel.Config{})
	id, _ := p.createNode("n1", 1024, 1024)
	node := func() map[string]any {
		for _, n := range p.expect(http.StatusOK, "GET", "/api/nodes", nil).array(t) {
			if n["id"] == id {
				return n
			}
		}
		t.Fatalf("node %s not listed", id)
		return nil
	}
	if d := node()["drivenBy"]; d != nil {
		t.Fatalf("drivenBy before any panel drives it = %v", d)
	}
	since := time.Now().Truncate(time.Millisecond)
	if _, err := p.st.ClaimNodes(context.Background(), "host-1a2b3c", "https://panel-1.example.com", since, time.Minute); err != nil {
		t.Fatal(err)
	}
	d, _ := node()["drivenBy"].(map[string]any)
	if d["panel"] != "host-1a2b3c" || d["address"] != "https://panel-1.example.com" || d["since"] != since.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("drivenBy = %v", node()["drivenBy"])
	}
	if err := p.st.ReleaseNodes(context.Background(), "host-1a2b3c"); err != nil {
		t.Fatal(err)
	}
	if d := node()["drivenBy"]; d != nil {
		t.Fatalf("drivenBy after the release = %v", d)
	}
}

// BenchmarkReadAfterWriteAcrossPanels measures how long a user created
// on one panel takes to be listed by a second panel on the same
// PostgreSQL, whose list was cached before the write; the baseline is
// the same write read back on the writing panel. Run with
// BERTH_TEST_POSTGRES set:
//
//	go test -run '^$' -bench ReadAfterWrite -benchtime 200x ./internal/panel/
func BenchmarkReadAfterWriteAcrossPanels(b *testing.B) {
	for _, other := range []bool{false, true} {
		name := "same-panel"
		if other {
			name = "other-panel"
		}
		b.Run(name, func(b *testing.B) {
			writer, reader := twoPanels(b)
			if !other {
				reader = writer
			}
			n := len(reader.expect(http.StatusOK, "GET", "/api/users", nil).array(b))
			b.ResetTimer()
			for i := range b.N {
				// Only the wait is timed: hashing the new password
				// would swamp it.
				b.StopTimer()
				writer.expect(http.StatusCreated, "POST", "/api/auth/create-user", map[string]any{
					"username": fmt.Sprintf("u%d", i), "email": fmt.Sprintf("u%d@example.com", i), "password": "correct horse"})
				n++
				b.StartTimer()
				for len(reader.expect(http.StatusOK, "GET", "/api/users", nil).array(b)) != n {
					time.Sleep(100 * time.Microsecond)
				}
			}
		})
	}
}
