package store

import (
	"context"
	"fmt"
	"time"
)

// Failures is what the throttle needs to know of one scope's failed
// sign-ins within its window.
type Failures struct {
	Count  int
	Newest time.Time
}

// RecordLoginFailure records one failed sign-in at at in each scope (an
// account, an address), and forgets failures from before forgetBefore, so
// that the table holds only what a window can still count.
func (s *Store) RecordLoginFailure(ctx context.Context, scopes []string, at, forgetBefore time.Time) error {
	// Quiet writes, outside a transaction, which would count as a change
	// of what cached reads show: failed sign-ins must not empty caches.
	for _, sc := range scopes {
		if _, err := s.execQuiet(ctx, `INSERT INTO login_failures (scope, at) VALUES (?, ?)`, sc, millis(at)); err != nil {
			return fmt.Errorf("record login failure: %w", err)
		}
	}
	if _, err := s.execQuiet(ctx, `DELETE FROM login_failures WHERE at < ?`, millis(forgetBefore)); err != nil {
		return fmt.Errorf("forget login failures: %w", err)
	}
	return nil
}

// LoginFailures counts the failures of scope since since.
func (s *Store) LoginFailures(ctx context.Context, scope string, since time.Time) (Failures, error) {
	var f Failures
	var newest int64
	err := s.queryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(at), 0) FROM login_failures WHERE scope = ? AND at >= ?`,
		scope, millis(since)).Scan(&f.Count, &newest)
	if err != nil {
		return Failures{}, fmt.Errorf("login failures: %w", err)
	}
	f.Newest = fromMillis(newest)
	return f, nil
}

// ClearLoginFailures forgets every failure of scope, after a success.
func (s *Store) ClearLoginFailures(ctx context.Context, scope string) error {
	if _, err := s.execQuiet(ctx, `DELETE FROM login_failures WHERE scope = ?`, scope); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
