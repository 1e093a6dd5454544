package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// backupStore is a store holding instance i1 on node n1.
func backupStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: "n1", Name: "n1", RAMMiB: 4096, DiskMiB: 4096, Address: "127.0.0.1", Port: 1,
		Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now}, secret.Hash(key), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	bindings, _ := ports.Parse("25565")
	if err := st.CreateInstance(ctx, store.Instance{ID: "i1", Name: "i1", UserID: "u", NodeID: "n1", Image: "busybox",
		MemoryMiB: 256, CPU: 1, Ports: bindings, Primary: bindings[0], PrimaryRaw: "25565", Variables: map[string]string{},
		InternalState: store.StateReady, Status: nodeapi.StatusRunning, Desired: nodeapi.DesiredRunning, Generation: 1,
		CreatedAt: now, InstallDeadline: now, BackupLimit: 100}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestApplyBackupStatusRecordsOnlyAnEnd(t *testing.T) {
	done := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		what                string
		restoring           bool
		node                nodeapi.BackupStatus
		state, err, restore string
	}{
		{what: "still creating", node: nodeapi.BackupStatus{State: nodeapi.BackupCreating, Written: 10},
			state: nodeapi.BackupCreating},
		{what: "a state the panel does not know", node: nodeapi.BackupStatus{State: "paused"}, state: nodeapi.BackupCreating},
		{what: "completed", node: nodeapi.BackupStatus{State: nodeapi.BackupCompleted, Bytes: 9, SHA256: "ab", CompletedAt: done},
			state: nodeapi.BackupCompleted},
		{what: "failed without a reason", node: nodeapi.BackupStatus{State: nodeapi.BackupFailed},
			state: nodeapi.BackupFailed, err: "the node gave no reason"},
		{what: "a restore still running", restoring: true,
			node:  nodeapi.BackupStatus{State: nodeapi.BackupCompleted, Restore: nodeapi.RestoreRunning},
			state: nodeapi.BackupCompleted, restore: nodeapi.RestoreRunning},
		{what: "a restore the node forgot", restoring: true, node: nodeapi.BackupStatus{State: nodeapi.BackupCompleted},
			state: nodeapi.BackupCompleted, restore: nodeapi.RestoreFailed},
		{what: "a restore completed", restoring: true,
			node:  nodeapi.BackupStatus{State: nodeapi.BackupCompleted, Restore: nodeapi.RestoreCompleted},
			state: nodeapi.BackupCompleted, restore: nodeapi.RestoreCompleted},
	} {
		t.Run(c.what, func(t *testing.T) {
			ctx := context.Background()
			st := backupStore(t)
			b := store.Backup{ID: "b1", InstanceID: "i1", NodeID: "n1", Name: "b", State: nodeapi.BackupCreating, CreatedAt: done}
			if err := st.CreateBackup(ctx, b); err != nil {
				t.Fatal(err)
			}
			if c.restoring {
				if _, _, err := dispatch.FinishBackup(ctx, st, b, nodeapi.BackupStatus{State: nodeapi.BackupCompleted}); err != nil {
					t.Fatal(err)
				}
				if err := st.SetBackupRestore(ctx, "b1", nodeapi.RestoreRunning, ""); err != nil {
					t.Fatal(err)
				}
			}
			b, err := st.BackupByID(ctx, "i1", "b1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dispatch.ApplyBackupStatus(ctx, st, b, c.node); err != nil {
				t.Fatal(err)
			}
			got, err := st.BackupByID(ctx, "i1", "b1")
			if err != nil || got.State != c.state || got.Error != c.err || got.Restore != c.restore {
				t.Errorf("recorded %+v, %v; want state %q error %q restore %q", got, err, c.state, c.err, c.restore)
			}
			if c.what == "completed" && (got.Bytes != 9 || got.SHA256 != "ab" || !got.CompletedAt.Equal(done)) {
				t.Errorf("completed backup recorded as %+v", got)
			}
		})
	}
}
