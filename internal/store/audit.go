package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry records one mutating API call.
type AuditEntry struct {
	KeyID  string
	Action string
	Target string
	IP     string
	At     time.Time
}

// RecordAudit appends an entry to the audit log.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	// The id starts with the time of recording in fixed-width hex, so that
	// entries of one millisecond still list newest first.
	id := fmt.Sprintf("%016x", time.Now().UnixNano()) + NewID(8)
	_, err := s.execQuiet(ctx, `INSERT INTO audit_log (id, key_id, action, target, ip, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, e.KeyID, e.Action, e.Target, e.IP, millis(e.At))
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditLog returns the most recent entries, newest first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	return queryAll(ctx, s, "audit log", func(row scanner) (AuditEntry, error) {
		var e AuditEntry
		var at int64
		err := row.Scan(&e.KeyID, &e.Action, &e.Target, &e.IP, &at)
		e.At = fromMillis(at)
		return e, err
	}, `SELECT key_id, action, target, ip, created_at FROM audit_log
		ORDER BY created_at DESC, id`+s.bytewise+` DESC LIMIT ?`, limit)
}
