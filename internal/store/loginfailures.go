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

// BeginLoginAttempt records attempt, a sign-in check about to run, as one
// failure at at in each scope (an account, an address), and then counts
// each scope's failures since since, the attempt's own left out. It also
// forgets failures from before forgetBefore, so that the table holds only
// what a window can still count.
//
// Recording before counting is what holds the throttle under concurrency,
// on one panel or several: each write is committed before its count, so
// of attempts that overlap, the later one counts the earlier one, and no
// more than a limit's worth can count fewer than the limit. An attempt that
// does not fail (it passes, or the throttle refuses it first) is undone by
// EndLoginAttempt; one that fails stays, as its failure.
func (s *Store) BeginLoginAttempt(ctx context.Context, attempt string, scopes []string, at, since, forgetBefore time.Time) ([]Failures, error) {
	if attempt == "" {
		return nil, fmt.Errorf("begin login attempt: no attempt id")
	}
	// Quiet writes, outside a transaction, which would count as a change
	// of what cached reads show: failed sign-ins must not empty caches.
	// Each commits before the counts below read.
	for _, sc := range scopes {
		if _, err := s.execQuiet(ctx, `INSERT INTO login_failures (scope, at, attempt) VALUES (?, ?, ?)`, sc, millis(at), attempt); err != nil {
			return nil, fmt.Errorf("begin login attempt: %w", err)
		}
	}
	if _, err := s.execQuiet(ctx, `DELETE FROM login_failures WHERE at < ?`, millis(forgetBefore)); err != nil {
		return nil, fmt.Errorf("forget login failures: %w", err)
	}
	out := make([]Failures, len(scopes))
	for i, sc := range scopes {
		var newest int64
		err := s.queryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(at), 0) FROM login_failures WHERE scope = ? AND at >= ? AND attempt <> ?`,
			sc, millis(since), attempt).Scan(&out[i].Count, &newest)
		if err != nil {
			return nil, fmt.Errorf("login failures: %w", err)
		}
		out[i].Newest = fromMillis(newest)
	}
	return out, nil
}

// EndLoginAttempt deletes what BeginLoginAttempt recorded of attempt: the
// check did not fail.
func (s *Store) EndLoginAttempt(ctx context.Context, attempt string) error {
	if _, err := s.execQuiet(ctx, `DELETE FROM login_failures WHERE attempt = ?`, attempt); err != nil {
		return fmt.Errorf("end login attempt: %w", err)
	}
	return nil
}

// ClearLoginFailures forgets every failure of scope, after a success.
func (s *Store) ClearLoginFailures(ctx context.Context, scope string) error {
	if _, err := s.execQuiet(ctx, `DELETE FROM login_failures WHERE scope = ?`, scope); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
