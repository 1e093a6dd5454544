package reconcile

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// TestImageErrorOnAReadyInstanceIsRetriedWithBackoff: an instance already
// READY cannot turn FAILED, so an ensure the node refuses for good (its
// image is gone and cannot be pulled) must count as a failed attempt and
// wait out its backoff, not stay due and be sent again at every pass.
func TestImageErrorOnAReadyInstanceIsRetriedWithBackoff(t *testing.T) {
	ctx := context.Background()
	var ensures atomic.Int32
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPut:
			ensures.Add(1)
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(nodeapi.ErrorBody{Error: "pull access denied for gone/image"})
		case r.URL.Path == "/v1/health":
			json.NewEncoder(w).Encode(nodeapi.Health{Version: "test", Docker: true})
		default:
			json.NewEncoder(w).Encode([]nodeapi.InstanceStatus{})
		}
	}))
	defer node.Close()

	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host, portText, _ := net.SplitHostPort(node.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	now := time.Now()
	key := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: "n", Name: "n", RAMMiB: 4096, DiskMiB: 4096, Address: host, Port: port,
		Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now}, secret.Hash(key), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConfigureNode(ctx, secret.Hash(key), secret.NewToken("berth_node_"), now); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	bindings, _ := ports.Parse("25565:25565")
	if err := st.CreateInstance(ctx, store.Instance{ID: "i", Name: "i", UserID: "u", NodeID: "n", Image: "gone/image",
		MemoryMiB: 256, CPU: 1, Ports: bindings, Primary: bindings[0], PrimaryRaw: "25565", Variables: map[string]string{},
		InternalState: store.StateInstalling, Status: nodeapi.StatusOffline, Desired: nodeapi.DesiredRunning,
		Generation: 1, CreatedAt: now, InstallDeadline: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkApplied(ctx, "i", 1, nodeapi.StatusRunning, "c1"); err != nil {
		t.Fatal(err)
	}
	// A new desire the node has not applied: the instance is due.
	if _, err := st.SetDesired(ctx, "i", nodeapi.DesiredStopped); err != nil {
		t.Fatal(err)
	}

	w := &worker{r: New(Config{Store: st}), nodeID: "n"}
	w.pass(ctx)
	w.pass(ctx)

	if n := ensures.Load(); n != 1 {
		t.Errorf("the node was sent %d ensures in two passes, want 1: the second pass is within the backoff", n)
	}
	in, err := st.InstanceByID(ctx, "i")
	if err != nil {
		t.Fatal(err)
	}
	if in.InternalState != store.StateReady || in.Attempts != 1 || !in.NextAttemptAt.After(now) {
		t.Errorf("instance is %s with %d attempts, next at %v; want READY, 1 attempt, a next attempt later",
			in.InternalState, in.Attempts, in.NextAttemptAt)
	}
	if in.LastError == "" {
		t.Error("the failure is not recorded as the instance's last error")
	}
}
