package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// Holder is what a session or token lookup reads of its user in the same
// query, so that a demoted admin or a new two-factor setting takes effect
// on the next request.
type Holder struct {
	// Admin is the user's admin flag now.
	Admin bool
	// TwoFactor is set when the user has two-factor enabled.
	TwoFactor bool
}

// Session is a signed-in browser. The cookie's value is never stored: only
// its SHA-256, as TokenHash.
type Session struct {
	ID        string
	UserID    string
	TokenHash string
	// Address and UserAgent are where the sign-in came from, for the
	// user's list of sessions.
	Address    string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute expiry; the idle one is LastSeenAt plus the
	// panel's idle limit.
	ExpiresAt time.Time
	// Holder is read with the session by SessionByHash.
	Holder Holder
}

// holderJoin reads a credential's user and two-factor state beside it.
const holderJoin = ` JOIN users u ON u.id = c.user_id LEFT JOIN two_factor tf ON tf.user_id = c.user_id`

// holderColumns are the columns holderJoin adds, in scanHolder's order.
const holderColumns = `u.admin, COALESCE(tf.enabled, 0)`

const sessionColumns = `c.id, c.user_id, c.token_hash, c.address, c.user_agent, c.created_at, c.last_seen_at, c.expires_at, ` + holderColumns

func scanSession(row scanner) (Session, error) {
	var se Session
	var created, seen, expires int64
	var admin, twoFactor int
	if err := row.Scan(&se.ID, &se.UserID, &se.TokenHash, &se.Address, &se.UserAgent, &created, &seen, &expires,
		&admin, &twoFactor); err != nil {
		return Session{}, err
	}
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
	se.Holder = Holder{Admin: admin != 0, TwoFactor: twoFactor != 0}
	return se, nil
}

// CreateSession stores a new session of an existing user.
func (s *Store) CreateSession(ctx context.Context, se Session) error {
	_, err := s.execQuiet(ctx, `INSERT INTO sessions (id, user_id, token_hash, address, user_agent, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, se.ID, se.UserID, se.TokenHash, se.Address, se.UserAgent,
		millis(se.CreatedAt), millis(se.LastSeenAt), millis(se.ExpiresAt))
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "User not found")
	}
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns the session whose cookie hashes to hash, expired
// or not: the caller judges expiry by its own clock and limits.
func (s *Store) SessionByHash(ctx context.Context, hash string) (Session, error) {
	se, err := scanSession(s.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions c`+holderJoin+` WHERE c.token_hash = ?`, hash))
	if err != nil {
		return Session{}, notFound(err, "session")
	}
	return se, nil
}

// TouchSession records that the session was used at at.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	if _, err := s.execQuiet(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, millis(at), id); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// ListSessions returns a user's sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	return queryAll(ctx, s, "list sessions", scanSession, `SELECT `+sessionColumns+` FROM sessions c`+holderJoin+`
		WHERE c.user_id = ? ORDER BY c.created_at DESC, c.id`+s.bytewise, userID)
}

// DeleteSession ends one of a user's sessions; another user's, or none,
// is NotExist.
func (s *Store) DeleteSession(ctx context.Context, userID, id string) error {
	return s.deleteOwned(ctx, "sessions", "session", userID, id)
}

// DeleteSessionByHash ends the session whose cookie hashes to hash, if any.
func (s *Store) DeleteSessionByHash(ctx context.Context, hash string) error {
	if _, err := s.execQuiet(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteOtherSessions ends every session of a user but keepID (which may
// be "", to end them all), and returns how many it ended.
func (s *Store) DeleteOtherSessions(ctx context.Context, userID, keepID string) (int64, error) {
	res, err := s.execQuiet(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return rowsChanged(res)
}

// PruneSessions deletes a user's sessions that expired by now, or were
// last seen before idleSince.
func (s *Store) PruneSessions(ctx context.Context, userID string, idleSince, now time.Time) error {
	_, err := s.execQuiet(ctx, `DELETE FROM sessions WHERE user_id = ? AND (expires_at <= ? OR last_seen_at < ?)`,
		userID, millis(now), millis(idleSince))
	if err != nil {
		return fmt.Errorf("prune sessions: %w", err)
	}
	return nil
}

// ChangePassword sets a user's password hash and, in the same transaction,
// ends every other session of the user than keepSessionID ("" for all).
func (s *Store) ChangePassword(ctx context.Context, userID, hash, keepSessionID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE id = ?`), hash, userID)
		if err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		if n, err := rowsChanged(res); err != nil || n == 0 {
			return notFoundIfNone(err, "User")
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE user_id = ? AND id <> ?`), userID, keepSessionID); err != nil {
			return fmt.Errorf("change password: end sessions: %w", err)
		}
		return nil
	})
}

// deleteOwned deletes the row id of table when it belongs to userID; none
// such is a NotExist fault naming what.
func (s *Store) deleteOwned(ctx context.Context, table, what, userID, id string) error {
	res, err := s.execQuiet(ctx, `DELETE FROM `+table+` WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	n, err := rowsChanged(res)
	if err != nil || n == 0 {
		return notFoundIfNone(err, what)
	}
	return nil
}

// notFoundIfNone is err, or, when a statement found no row (err nil), a
// NotExist fault naming what.
func notFoundIfNone(err error, what string) error {
	if err != nil {
		return err
	}
	return fault.New(fault.NotExist, "%s not found", what)
}
