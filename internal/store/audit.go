package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// AuditEntry records one change, the activity log's row: who made it
// (the kind of credential, its id and its user), what, to which instance,
// from where and when.
type AuditEntry struct {
	// ID is set by RecordAudit; it orders entries of one millisecond.
	ID string
	// ActorKind is the credential's kind: "key", "session", "token" or
	// "sftp".
	ActorKind    string
	CredentialID string
	// UserID is the user of a session or token; empty for an API key.
	UserID string
	// Username is the user's name when the entry is read; empty for an API
	// key or a user since deleted.
	Username string
	Action   string
	// InstanceID is the instance changed; empty for a change of none.
	InstanceID string
	Target     string
	// Detail is what else is worth knowing of the change, such as the
	// permissions granted.
	Detail string
	IP     string
	At     time.Time
}

// RecordAudit appends an entry to the audit log.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	// The id starts with the time of recording in fixed-width hex, so that
	// entries of one millisecond still list newest first.
	id := fmt.Sprintf("%016x", time.Now().UnixNano()) + NewID(8)
	var instance sql.NullString
	if e.InstanceID != "" {
		instance = sql.NullString{String: e.InstanceID, Valid: true}
	}
	_, err := s.execQuiet(ctx, `INSERT INTO audit_log (id, actor_kind, credential_id, user_id, action, instance_id, target,
		detail, ip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, e.ActorKind, e.CredentialID, e.UserID, e.Action, instance, e.Target, e.Detail, e.IP, millis(e.At))
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditFilter selects a page of the audit log. Zero fields select all.
type AuditFilter struct {
	// InstanceID keeps the entries of one instance.
	InstanceID string
	// Actor keeps the entries of a user id or a credential id.
	Actor string
	// Target keeps the entries of what was changed: an instance's,
	// user's, node's or key's id.
	Target string
	// Action keeps an action and, as a dotted prefix, its kin: "instance.power"
	// keeps "instance.power.start".
	Action string
	// Since and Until bound the time, Since included and Until not.
	Since, Until time.Time
	// AfterAt and AfterID continue a page after its last entry.
	AfterAt time.Time
	AfterID string
	// Limit caps the page; it must be positive.
	Limit int
}

// AuditPage returns entries of the audit log that f selects, newest
// first.
func (s *Store) AuditPage(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	if f.InstanceID != "" {
		where, args = append(where, "a.instance_id = ?"), append(args, f.InstanceID)
	}
	if f.Actor != "" {
		where, args = append(where, "(a.user_id = ? OR a.credential_id = ?)"), append(args, f.Actor, f.Actor)
	}
	if f.Target != "" {
		where, args = append(where, "a.target = ?"), append(args, f.Target)
	}
	if f.Action != "" {
		where = append(where, `(a.action = ? OR a.action LIKE ? ESCAPE '\')`)
		args = append(args, f.Action, escapeLike(f.Action)+".%")
	}
	if !f.Since.IsZero() {
		where, args = append(where, "a.created_at >= ?"), append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "a.created_at < ?"), append(args, millis(f.Until))
	}
	if f.AfterID != "" {
		at := millis(f.AfterAt)
		where = append(where, "(a.created_at < ? OR (a.created_at = ? AND a.id"+s.bytewise+" < ?))")
		args = append(args, at, at, f.AfterID)
	}
	query := `SELECT a.id, a.actor_kind, a.credential_id, a.user_id, COALESCE(u.username, ''), a.action,
		COALESCE(a.instance_id, ''), a.target, a.detail, a.ip, a.created_at
		FROM audit_log a LEFT JOIN users u ON u.id = a.user_id AND a.user_id <> ''`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += ` ORDER BY a.created_at DESC, a.id` + s.bytewise + ` DESC LIMIT ?`
	args = append(args, f.Limit)
	return queryAll(ctx, s, "audit log", scanAuditEntry, query, args...)
}

func scanAuditEntry(row scanner) (AuditEntry, error) {
	var e AuditEntry
	var at int64
	err := row.Scan(&e.ID, &e.ActorKind, &e.CredentialID, &e.UserID, &e.Username, &e.Action, &e.InstanceID,
		&e.Target, &e.Detail, &e.IP, &at)
	e.At = fromMillis(at)
	return e, err
}

// AuditLog returns the most recent entries, newest first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	return s.AuditPage(ctx, AuditFilter{Limit: limit})
}

// escapeLike escapes the wildcards of a LIKE pattern, with \ as the escape.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
