package store_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// BenchmarkSetObserved measures the reconciler's commonest write: a node
// reporting an instance as it already was, every pass, for every instance.
// SetObserved reads first and writes only on a change (the change and its
// webhook deliveries in one transaction); the baseline is the single
// conditional UPDATE it replaced, which matched no row but still took
// SQLite's one write connection. "changed" flips the status each time,
// with a webhook subscribed, so that every call writes and queues one
// delivery.
func BenchmarkSetObserved(b *testing.B) {
	st := storetest.NewSQLite(b)(b)
	if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	key := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: "n1", Name: "n1", RAMMiB: 8192, DiskMiB: 8192, Address: "10.0.0.1", Port: 8443,
		Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: time.Now()}, secret.Hash(key), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	bs, _ := ports.Parse("25565")
	now := time.Now()
	if err := st.CreateInstance(ctx, store.Instance{ID: "i1", Name: "i1", UserID: "u", NodeID: "n1", Image: "x", MemoryMiB: 512, CPU: 1,
		DiskMiB: 1024, Ports: bs, Primary: bs[0], PrimaryRaw: "25565", Variables: map[string]string{}, InternalState: store.StateReady,
		Status: "running", Desired: "running", Generation: 1, InstallDeadline: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateWebhook(ctx, store.Webhook{ID: "h", InstanceID: "i1", URL: "https://example.com", Format: "json",
		Events: []string{store.EventInstanceStarted, store.EventInstanceStopped}, Secret: "s", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	same := store.Observation{Status: "running", ContainerID: "c1"}
	if err := st.SetObserved(ctx, "n1", "i1", same); err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged/baseline-conditional-update", func(b *testing.B) {
		for b.Loop() {
			if err := store.ExecRaw(ctx, st, `UPDATE instances SET status = ?, container_id = ?, exit_code = ?, oom_killed = ?,
				node_error = ?, updated_at = ? WHERE id = ? AND node_id = ? AND (status <> ? OR container_id <> ? OR exit_code <> ?
				OR oom_killed <> ? OR node_error <> ?)`, same.Status, same.ContainerID, 0, 0, "", now.UnixMilli(),
				"i1", "n1", same.Status, same.ContainerID, 0, 0, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged/SetObserved", func(b *testing.B) {
		for b.Loop() {
			if err := st.SetObserved(ctx, "n1", "i1", same); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("changed/SetObserved-with-a-delivery", func(b *testing.B) {
		statuses := []string{"stopped", "running"}
		i := 0
		for b.Loop() {
			i++
			if err := st.SetObserved(ctx, "n1", "i1", store.Observation{Status: statuses[i%2], ContainerID: "c1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
