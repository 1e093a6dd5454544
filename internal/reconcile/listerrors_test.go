package reconcile

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/store"
)

// logBuffer collects a logger's output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCorruptRowIsLoggedAndTheRestReconciled: one stored instance that no
// longer decodes must not stop its node's reconciliation silently. The
// reconciler logs the failed list, naming the row, and still carries the
// node's other instances to it; and it asks the node to remove only the
// node's own deleted instances. (The pass also keeps the cores the node
// reports.)
func TestCorruptRowIsLoggedAndTheRestReconciled(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Two nodes at one daemon: what the reconciler asks of either reaches
	// the same runtime, so a removal sent for the wrong node shows.
	node := nodetest.Start(t, func(port int) string {
		storeNode(t, st, "other", port)
		return storeNode(t, st, "n", port)
	})
	now := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ id, node string }{{"bad", "n"}, {"good", "n"}, {"gone", "n"}, {"gone-elsewhere", "other"}} {
		bindings, _ := ports.Parse(strconv.Itoa(25565 + i))
		if err := st.CreateInstance(ctx, store.Instance{ID: c.id, Name: c.id, UserID: "u", NodeID: c.node, Image: "game",
			MemoryMiB: 256, CPU: 1, Ports: bindings, Primary: bindings[0], PrimaryRaw: strconv.Itoa(25565 + i),
			Variables: map[string]string{}, InternalState: store.StateInstalling, Status: nodeapi.StatusOffline,
			Desired: nodeapi.DesiredRunning, Generation: 1, CreatedAt: now, InstallDeadline: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// The deleted instances were on the daemon before.
	for _, id := range []string{"gone", "gone-elsewhere"} {
		in, err := st.InstanceByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := dispatch.Spec(ctx, st, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Client().EnsureInstance(ctx, spec); err != nil {
			t.Fatalf("ensure %s: %v", id, err)
		}
		if err := st.DeleteInstance(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE instances SET ports = 'not ports' WHERE id = 'bad'`); err != nil {
		t.Fatal(err)
	}
	node.Runtime.ResetCalls()

	var logs logBuffer
	w := &worker{r: New(Config{Store: st, Log: slog.New(slog.NewTextHandler(&logs, nil))}), nodeID: "n"}
	w.pass(ctx)

	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "list due instances") ||
		!strings.Contains(got, "instance bad") {
		t.Errorf("the failed list is not logged as an error naming the row; the log:\n%s", got)
	}
	if n := node.Runtime.Calls("Ensure"); n != 1 {
		t.Errorf("the node's runtime was asked %d times to ensure, want once, for the good instance alone", n)
	}
	if c, ok := node.Runtime.Container("good"); !ok || !c.State.Running {
		t.Error("the good instance does not run on the node")
	}
	if _, ok := node.Runtime.Container("bad"); ok {
		t.Error("the instance whose row does not decode was ensured")
	}
	// Only the node's own deleted instance is removed.
	if _, ok := node.Runtime.Container("gone"); ok {
		t.Error("the node's deleted instance is still on it")
	}
	if _, ok := node.Runtime.Container("gone-elsewhere"); !ok {
		t.Error("the other node's deleted instance was removed by this node's pass")
	}
	in, err := st.InstanceByID(ctx, "good")
	if err != nil || in.InternalState != store.StateReady {
		t.Errorf("the good instance is %q (%v), want READY", in.InternalState, err)
	}
	// The health call's cores are kept, for deploys to be checked against.
	if n, err := st.NodeByID(ctx, "n"); err != nil || n.CPUs != goruntime.NumCPU() || n.Status != store.NodeOnline {
		t.Errorf("node after a pass: %s with %d cores (%v), want Online with %d", n.Status, n.CPUs, err, goruntime.NumCPU())
	}
}
