package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ExecRaw runs one statement as written, placeholders aside, for tests
// that must set up what Berth itself never writes: a corrupt row, a
// column's collation.
func ExecRaw(ctx context.Context, s *Store, query string, args ...any) error {
	_, err := s.write.ExecContext(ctx, s.q(query), args...)
	return err
}

// BeginRaw opens a write transaction the test holds, to stand for another
// caller's transaction caught half-way.
func BeginRaw(ctx context.Context, s *Store) (*sql.Tx, error) { return s.write.BeginTx(ctx, nil) }

// Q adapts a statement written with ? placeholders to s's dialect.
func Q(s *Store, query string) string { return s.q(query) }

// QueryRowRaw runs one query as written, placeholders aside.
func QueryRowRaw(ctx context.Context, s *Store, query string, args ...any) *sql.Row {
	return s.read.QueryRowContext(ctx, s.q(query), args...)
}

// MigrationStatements returns the statements of the embedded migration
// named name, as migrate runs them.
func MigrationStatements(name string) ([]string, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.name == name {
			return splitStatements(m.sql), nil
		}
	}
	return nil, fmt.Errorf("no migration %s", name)
}

// ReconcilerQueries are the reconciler's per-node questions, by name, each
// taking (node id, now in Unix milliseconds).
func ReconcilerQueries() map[string]string {
	return map[string]string{
		"due":      `SELECT ` + instanceColumns + instanceFrom + dueWhere,
		"overdue":  `SELECT ` + instanceColumns + instanceFrom + overdueWhere,
		"removals": nodeRemovalsQuery,
	}
}
