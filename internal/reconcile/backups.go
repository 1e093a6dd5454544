package reconcile

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// The follower of backups: the node does the work of a backup or a
// restore in the background, and each pass asks it how the ones the
// panel is waiting on are going. Everything it needs is in the database,
// so a panel restarted mid-backup simply goes on following it. No backup
// stays creating forever: a node that no longer knows it, or that stays
// offline past BackupOfflineTimeout, fails it with the reason.

// followBackups asks the node about each backup the panel waits on.
func (w *worker) followBackups(ctx context.Context, c *nodeapi.Client, log *slog.Logger) {
	list, err := w.r.st.FollowedBackups(ctx, w.nodeID)
	w.record(ctx, "list followed backups", err)
	for _, b := range list {
		cctx, cancel := context.WithTimeout(ctx, w.r.cfg.HealthTimeout)
		status, err := c.GetBackup(cctx, b.InstanceID, b.ID)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case nodeapi.IsNotFound(err):
			// The node lost it (its data folder was removed, say), or the
			// panel stopped between recording it and asking the node.
			status = nodeapi.BackupStatus{ID: b.ID, State: nodeapi.BackupFailed,
				Error: "the node has no record of this backup", Restore: nodeapi.RestoreFailed,
				RestoreError: "the node has no record of this backup"}
		case err != nil:
			log.Warn("backup status", "backup_id", b.ID, "err", err)
			continue
		}
		if _, err := dispatch.ApplyBackupStatus(ctx, w.r.st, b, status); err != nil {
			w.record(ctx, "record backup status", err)
		}
	}
}

// failOfflineBackups fails the backups and restores the panel waits on
// when node n has not answered for longer than BackupOfflineTimeout.
func (w *worker) failOfflineBackups(ctx context.Context, n store.Node) {
	if time.Since(n.LastSeen) < w.r.cfg.BackupOfflineTimeout {
		return
	}
	list, err := w.r.st.FollowedBackups(ctx, w.nodeID)
	w.record(ctx, "list followed backups", err)
	reason := "node " + n.Name + " offline for longer than " + w.r.cfg.BackupOfflineTimeout.String()
	for _, b := range list {
		status := nodeapi.BackupStatus{ID: b.ID, State: nodeapi.BackupFailed, Error: reason,
			Restore: nodeapi.RestoreFailed, RestoreError: reason}
		if _, err := dispatch.ApplyBackupStatus(ctx, w.r.st, b, status); err != nil {
			w.record(ctx, "record backup status", err)
		}
	}
}
