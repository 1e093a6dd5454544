package reconcile

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
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

// stubCPUs is the stub node's CPU cores.
const stubCPUs = 3

// stubNode answers the node API: every ensure succeeds, and it records
// which instances it was asked to ensure and to remove.
type stubNode struct {
	mu               sync.Mutex
	ensured, removed []string
}

func (n *stubNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	id := path.Base(r.URL.Path)
	switch {
	case r.URL.Path == "/v1/health":
		json.NewEncoder(w).Encode(nodeapi.Health{Version: "test", Docker: true, CPUs: stubCPUs})
	case r.Method == http.MethodPut:
		n.mu.Lock()
		n.ensured = append(n.ensured, id)
		n.mu.Unlock()
		json.NewEncoder(w).Encode(nodeapi.InstanceStatus{ID: id, Status: nodeapi.StatusRunning, ContainerID: "c-" + id})
	case r.Method == http.MethodDelete:
		n.mu.Lock()
		n.removed = append(n.removed, id)
		n.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		json.NewEncoder(w).Encode([]nodeapi.InstanceStatus{})
	}
}

// TestCorruptRowIsLoggedAndTheRestReconciled: one stored instance that no
// longer decodes must not stop its node's reconciliation silently. The
// reconciler logs the failed list, naming the row, and still carries the
// node's other instances to it; and it asks the node to remove only the
// node's own deleted instances. (The pass also keeps the cores the node
// reports.)
func TestCorruptRowIsLoggedAndTheRestReconciled(t *testing.T) {
	ctx := context.Background()
	stub := &stubNode{}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	dir := t.TempDir()
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host, portText, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	now := time.Now()
	for _, id := range []string{"n", "other"} {
		key := secret.NewToken("berth_cfg_")
		if err := st.CreateNode(ctx, store.Node{ID: id, Name: id, RAMMiB: 4096, DiskMiB: 4096, Address: host, Port: port,
			Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now}, secret.Hash(key), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConfigureNode(ctx, secret.Hash(key), secret.NewToken("berth_node_"), now); err != nil {
			t.Fatal(err)
		}
	}
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
	for _, id := range []string{"gone", "gone-elsewhere"} {
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

	var logs logBuffer
	w := &worker{r: New(Config{Store: st, Log: slog.New(slog.NewTextHandler(&logs, nil))}), nodeID: "n"}
	w.pass(ctx)

	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "list due instances") ||
		!strings.Contains(got, "instance bad") {
		t.Errorf("the failed list is not logged as an error naming the row; the log:\n%s", got)
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if !slices.Equal(stub.ensured, []string{"good"}) {
		t.Errorf("the node was asked to ensure %q, want the good instance alone", stub.ensured)
	}
	if !slices.Equal(stub.removed, []string{"gone"}) {
		t.Errorf("the node was asked to remove %q, want its own deleted instance alone", stub.removed)
	}
	in, err := st.InstanceByID(ctx, "good")
	if err != nil || in.InternalState != store.StateReady {
		t.Errorf("the good instance is %q (%v), want READY", in.InternalState, err)
	}
	// The health call's cores are kept, for deploys to be checked against.
	if n, err := st.NodeByID(ctx, "n"); err != nil || n.CPUs != stubCPUs || n.Status != store.NodeOnline {
		t.Errorf("node after a pass: %s with %d cores (%v), want Online with %d", n.Status, n.CPUs, err, stubCPUs)
	}
}
