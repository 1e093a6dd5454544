package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// BackupRequest is what in's node is asked to make backup id: the
// template's console commands around the archive, when it has any.
func BackupRequest(ctx context.Context, st *store.Store, in store.Instance, id string) (nodeapi.BackupRequest, error) {
	req := nodeapi.BackupRequest{ID: id}
	if in.TemplateID == "" {
		return req, nil
	}
	row, err := st.TemplateByRef(ctx, in.TemplateID)
	if err != nil {
		return req, fmt.Errorf("image template %s: %w", in.TemplateID, err)
	}
	t, err := images.Decode(row.Doc)
	if err != nil {
		return req, err
	}
	if t.BackupCommands != nil {
		req.Before, req.After = t.BackupCommands.Before, t.BackupCommands.After
	}
	return req, nil
}

// FinishBackup records that backup b, creating until now, ended as the
// node reports in status: completed with its size and checksum, or failed
// with the reason. It is the one place a backup ends, whoever saw it end
// (the create call, the reconciler's follower, a node offline for too
// long), and ended is true for exactly one call per backup: the place to
// announce backup.completed and backup.failed. It returns b as recorded.
func FinishBackup(ctx context.Context, st *store.Store, b store.Backup, status nodeapi.BackupStatus) (store.Backup, bool, error) {
	b.State, b.Error, b.Bytes, b.SHA256, b.CompletedAt = status.State, status.Error, status.Bytes, status.SHA256, status.CompletedAt
	if b.CompletedAt.IsZero() {
		b.CompletedAt = time.Now().UTC()
	}
	if b.State == nodeapi.BackupFailed && b.Error == "" {
		b.Error = "the node gave no reason"
	}
	ended, err := st.FinishBackup(ctx, b)
	return b, ended, err
}

// ApplyBackupStatus records what the node reports of backup b: its end,
// if it ended, and the end of a restore the panel was waiting on. A
// backup still creating (or in a state this panel does not know), or a
// restore still running, changes nothing. It returns b as recorded.
func ApplyBackupStatus(ctx context.Context, st *store.Store, b store.Backup, status nodeapi.BackupStatus) (store.Backup, error) {
	ended := status.State == nodeapi.BackupCompleted || status.State == nodeapi.BackupFailed
	if b.State == nodeapi.BackupCreating && ended {
		var err error
		if b, _, err = FinishBackup(ctx, st, b, status); err != nil {
			return b, err
		}
	}
	if b.Restore == nodeapi.RestoreRunning && status.Restore != nodeapi.RestoreRunning {
		restore, reason := status.Restore, status.RestoreError
		if restore != nodeapi.RestoreCompleted && restore != nodeapi.RestoreFailed {
			// The node restarted mid-restore and kept no record of it; its
			// own restore leaves the old folder in place when it fails.
			restore, reason = nodeapi.RestoreFailed, "the node has no record of the restore"
		}
		if err := st.SetBackupRestore(ctx, b.ID, restore, reason); err != nil {
			return b, err
		}
		b.Restore, b.RestoreError = restore, reason
	}
	return b, nil
}
