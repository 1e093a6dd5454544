package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// startNode starts a node daemon on the fake runtime, stored as the
// configured node id of st at the daemon's address.
func startNode(t *testing.T, st *store.Store, id string) *nodetest.Node {
	t.Helper()
	return nodetest.Start(t, func(port int) string { return storeNode(t, st, id, port) })
}

// storeNode stores a node id at 127.0.0.1:port and configures it, as
// `berth node configure` would, returning its bearer token.
func storeNode(t *testing.T, st *store.Store, id string, port int) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	key := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: id, Name: id, RAMMiB: 4096, DiskMiB: 4096, Address: "127.0.0.1", Port: port,
		Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now}, secret.Hash(key), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	token := secret.NewToken("berth_node_")
	if _, err := st.ConfigureNode(ctx, secret.Hash(key), token, "", now); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestImageErrorOnAReadyInstanceIsRetriedWithBackoff: an instance already
// READY cannot turn FAILED, so an ensure the node refuses for good (its
// image is gone and cannot be pulled) must count as a failed attempt and
// wait out its backoff, not stay due and be sent again at every pass.
func TestImageErrorOnAReadyInstanceIsRetriedWithBackoff(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	node := startNode(t, st, "n")
	now := time.Now()
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
	w := &worker{r: New(Config{Store: st}), nodeID: "n"}
	w.pass(ctx)
	if in, err := st.InstanceByID(ctx, "i"); err != nil || in.InternalState != store.StateReady || in.AppliedGeneration != 1 {
		t.Fatalf("after the first pass the instance is %s at generation %d (%v), want READY at 1",
			in.InternalState, in.AppliedGeneration, err)
	}
	// The image is gone from the node and from its registry, and a new
	// desire the node has not applied makes the instance due.
	node.Runtime.FailImage("gone/image")
	if _, err := st.SetDesired(ctx, "i", nodeapi.DesiredStopped); err != nil {
		t.Fatal(err)
	}
	node.Runtime.ResetCalls()

	w.pass(ctx)
	w.pass(ctx)

	if n := node.Runtime.Calls("Ensure"); n != 1 {
		t.Errorf("the node's runtime was asked %d times to ensure in two passes, want 1: the second pass is within the backoff", n)
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
