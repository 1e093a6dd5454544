// Package storetest opens throwaway stores for tests: SQLite in the test's
// own folder, or PostgreSQL in a fresh schema of the server that
// BERTH_TEST_POSTGRES names, so that tests never see each other's rows.
package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the schema

	"github.com/berth-dev/berth/internal/store"
)

// PostgresEnv names the PostgreSQL URL that tests also run against, e.g.
// postgres://berth:berth@127.0.0.1:5432/berth_test?sslmode=disable.
const PostgresEnv = "BERTH_TEST_POSTGRES"

// Database is one test's own empty database. Each call opens it (again),
// applying migrations; the store is closed when the test ends.
type Database func(t testing.TB) *store.Store

// PostgresURL returns the test server's URL, or "" when none is set.
func PostgresURL() string { return os.Getenv(PostgresEnv) }

// SkipWithoutPostgres skips t unless a test server is set, saying how to
// set one.
func SkipWithoutPostgres(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		t.Skip(PostgresEnv + " is unset: set it to a PostgreSQL URL (e.g. " +
			"postgres://berth:berth@127.0.0.1:5432/berth_test?sslmode=disable) to run these tests on PostgreSQL")
	}
	return base
}

// NewSQLite is a SQLite file in a fresh t.TempDir().
func NewSQLite(t testing.TB) Database {
	t.Helper()
	dir := t.TempDir()
	return func(t testing.TB) *store.Store {
		t.Helper()
		return open(t, "", dir)
	}
}

// NewPostgres is a fresh schema on the server at base, dropped when the
// test ends; the store reaches it through search_path in its URL, which
// pgx sends to the server as a run-time parameter.
func NewPostgres(t testing.TB, base string) Database {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + store.NewID(8)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return func(t testing.TB) *store.Store {
		t.Helper()
		st := open(t, u.String(), "")
		if !st.Postgres() {
			t.Fatalf("store on %s is not PostgreSQL", u.Redacted())
		}
		// The tables must be in the test's schema, not public: that is
		// what keeps tests apart.
		var where sql.NullString
		if err := admin.QueryRowContext(ctx, "SELECT to_regclass($1)::text", schema+".users").Scan(&where); err != nil || !where.Valid {
			t.Fatalf("the store's tables are not in schema %s (%v): search_path in the URL was not applied", schema, err)
		}
		return st
	}
}

func open(t testing.TB, url, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, dir)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
