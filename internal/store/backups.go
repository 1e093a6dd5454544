package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// Backup is one archive of an instance's data folder, kept by its node.
// The panel records it creating before it asks the node, and follows it
// until the node says completed or failed.
type Backup struct {
	ID         string
	InstanceID string
	NodeID     string
	Name       string
	// State is nodeapi.BackupCreating, BackupCompleted or BackupFailed;
	// Error says why a backup failed.
	State  string
	Error  string
	Bytes  int64
	SHA256 string
	Locked bool
	// CompletedAt is when the backup completed or failed; zero while it
	// is being created.
	CompletedAt time.Time
	CreatedAt   time.Time
	// Restore is the state of the backup's last restore: "" (never),
	// nodeapi.RestoreRunning, RestoreCompleted or RestoreFailed, with
	// RestoreError saying why one failed.
	Restore      string
	RestoreError string
}

const backupColumns = `id, instance_id, node_id, name, state, error, bytes, sha256, locked, created_at, completed_at,
	restore_state, restore_error`

func scanBackup(row scanner) (Backup, error) {
	var b Backup
	var locked int
	var created, completed int64
	err := row.Scan(&b.ID, &b.InstanceID, &b.NodeID, &b.Name, &b.State, &b.Error, &b.Bytes, &b.SHA256, &locked,
		&created, &completed, &b.Restore, &b.RestoreError)
	b.Locked = locked != 0
	b.CreatedAt, b.CompletedAt = fromMillis(created), fromMillis(completed)
	return b, err
}

// CreateBackup records b, creating, unless its instance holds its
// backupLimit of backups already: creating and completed ones count,
// failed ones do not (they hold no archive). The count and the insert are
// one transaction, so two creates racing for the last place cannot both
// have it. Past the limit it is a Conflict naming backupLimit; a missing
// instance is NotExist.
func (s *Store) CreateBackup(ctx context.Context, b Backup) error {
	err := s.txFor(ctx, []string{}, func(tx *sql.Tx) error {
		// On PostgreSQL the instance's row lock serializes the creates of
		// one instance; SQLite's immediate transactions are serialized
		// already.
		lock := ""
		if s.pg {
			lock = " FOR UPDATE"
		}
		var limit int
		err := tx.QueryRowContext(ctx, s.q(`SELECT backup_limit FROM instances WHERE id = ?`+lock), b.InstanceID).Scan(&limit)
		if err != nil {
			return notFound(err, "Instance")
		}
		var held int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM backups WHERE instance_id = ? AND state <> ?`),
			b.InstanceID, nodeapi.BackupFailed).Scan(&held); err != nil {
			return err
		}
		if held >= limit {
			return &fault.Error{Kind: fault.Conflict, Field: "backupLimit",
				Msg: fmt.Sprintf("backupLimit: the instance holds %d backup(s) of its %d; delete one first", held, limit)}
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO backups (id, instance_id, node_id, name, state, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`), b.ID, b.InstanceID, b.NodeID, b.Name, b.State, millis(b.CreatedAt))
		if _, dup := uniqueViolation(err); dup {
			return fault.New(fault.Exist, "backup id %q is taken", b.ID)
		}
		return err
	})
	if err != nil && fault.KindOf(err) == fault.Other {
		return fmt.Errorf("create backup: %w", err)
	}
	return err
}

// Backups returns an instance's backups, newest first.
func (s *Store) Backups(ctx context.Context, instanceID string) ([]Backup, error) {
	return s.BackupPage(ctx, instanceID, Page{})
}

// BackupPage returns the page p of an instance's backups, newest first.
func (s *Store) BackupPage(ctx context.Context, instanceID string, p Page) ([]Backup, error) {
	query, args := s.orderedPageQuery(`SELECT `+backupColumns+` FROM backups`, []string{"instance_id = ?"},
		[]any{instanceID}, p, "created_at", "id", true)
	return queryAll(ctx, s, "list backups", scanBackup, query, args...)
}

// Cursor is the backup's place in its instance's list of backups.
func (b Backup) Cursor() Cursor { return Cursor{At: millis(b.CreatedAt), Key: b.ID} }

// BackupByID returns one backup of an instance; a backup of another
// instance is NotExist, as a missing one is.
func (s *Store) BackupByID(ctx context.Context, instanceID, id string) (Backup, error) {
	b, err := scanBackup(s.queryRow(ctx, `SELECT `+backupColumns+` FROM backups WHERE instance_id = ? AND id = ?`,
		instanceID, id))
	if err != nil {
		return Backup{}, notFound(err, "backup")
	}
	return b, nil
}

// FollowedBackups returns the backups of a node the panel is waiting on:
// those being created and those being restored, oldest first.
func (s *Store) FollowedBackups(ctx context.Context, nodeID string) ([]Backup, error) {
	return queryAll(ctx, s, "followed backups", scanBackup, `SELECT `+backupColumns+` FROM backups
		WHERE node_id = ? AND (state = ? OR restore_state = ?) ORDER BY created_at, id`+s.bytewise,
		nodeID, nodeapi.BackupCreating, nodeapi.RestoreRunning)
}

// FinishBackup records the end of a backup being created: state is
// completed or failed, with the node's size, checksum and time, or the
// reason it failed. Only a backup still creating changes, so each backup
// ends once; ended reports whether this call ended it, and that call
// alone emits backup.completed or backup.failed, in the same transaction.
func (s *Store) FinishBackup(ctx context.Context, b Backup) (ended bool, err error) {
	err = s.txFor(ctx, []string{}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE backups SET state = ?, error = ?, bytes = ?, sha256 = ?, completed_at = ?
			WHERE id = ? AND state = ?`), b.State, b.Error, b.Bytes, b.SHA256, millis(b.CompletedAt), b.ID, nodeapi.BackupCreating)
		if err != nil {
			return err
		}
		if n, err := rowsChanged(res); err != nil || n == 0 {
			return err
		}
		ended = true
		var instanceID, nodeID, name string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT instance_id, node_id, name FROM backups WHERE id = ?`), b.ID).
			Scan(&instanceID, &nodeID, &name); err != nil {
			return err
		}
		data := map[string]any{"backup": b.ID, "name": name}
		event := EventBackupCompleted
		if b.State == nodeapi.BackupCompleted {
			data["bytes"], data["sha256"] = b.Bytes, b.SHA256
		} else {
			event, data["error"] = EventBackupFailed, b.Error
		}
		return s.emit(ctx, tx, Event{Event: event, InstanceID: instanceID, NodeID: nodeID, Data: data})
	})
	if err != nil {
		return false, fmt.Errorf("finish backup %s: %w", b.ID, err)
	}
	return ended, nil
}

// SetBackupRestore records the state of a backup's restore, and why it
// failed.
func (s *Store) SetBackupRestore(ctx context.Context, id, state, reason string) error {
	if _, err := s.execFor(ctx, []string{}, `UPDATE backups SET restore_state = ?, restore_error = ? WHERE id = ?`,
		state, reason, id); err != nil {
		return fmt.Errorf("set backup restore %s: %w", id, err)
	}
	return nil
}

// SetBackupLocked locks or unlocks a backup of an instance, and returns it.
// Both are idempotent.
func (s *Store) SetBackupLocked(ctx context.Context, instanceID, id string, locked bool) (Backup, error) {
	if _, err := s.execFor(ctx, []string{}, `UPDATE backups SET locked = ? WHERE instance_id = ? AND id = ?`,
		boolInt(locked), instanceID, id); err != nil {
		return Backup{}, fmt.Errorf("lock backup %s: %w", id, err)
	}
	return s.BackupByID(ctx, instanceID, id)
}

// DeleteBackup forgets a backup of an instance. A locked backup is a
// Conflict and stays, even one locked since the caller last read it.
func (s *Store) DeleteBackup(ctx context.Context, instanceID, id string) error {
	res, err := s.execFor(ctx, []string{}, `DELETE FROM backups WHERE instance_id = ? AND id = ? AND locked = 0`, instanceID, id)
	if err != nil {
		return fmt.Errorf("delete backup %s: %w", id, err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return fmt.Errorf("delete backup %s: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.BackupByID(ctx, instanceID, id); err != nil {
		return err
	}
	return ErrBackupLocked
}

// ErrBackupLocked refuses to delete a locked backup.
var ErrBackupLocked error = &fault.Error{Kind: fault.Conflict, Msg: "backup is locked; unlock it first"}

// SetBackupLimit changes how many backups an instance may hold, and
// returns the instance. A lower limit deletes nothing: it refuses new
// backups until enough are gone.
func (s *Store) SetBackupLimit(ctx context.Context, id string, limit int) (Instance, error) {
	if _, err := s.execFor(ctx, []string{id}, `UPDATE instances SET backup_limit = ?, updated_at = ? WHERE id = ?`,
		limit, millis(time.Now()), id); err != nil {
		return Instance{}, fmt.Errorf("set backup limit %s: %w", id, err)
	}
	return s.InstanceByID(ctx, id)
}
