// Package storetest opens throwaway stores for tests: SQLite in the test's
// own folder, or PostgreSQL in a fresh schema of the server that
// BERTH_TEST_POSTGRES names, so that tests never see each other's rows.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the schema

	"github.com/berth-dev/berth/internal/store"
)

// PostgresEnv names the PostgreSQL URL that tests also run against, e.g.
// postgres://berth:berth@127.0.0.1:5432/berth_test?sslmode=disable.
const PostgresEnv = "BERTH_TEST_POSTGRES"

// Database is one test's own empty database. Each call opens it (again),
// applying migrations; the store is closed when the test ends.
type Database func(t testing.TB) *store.Store

// RequireEnv names the variable that turns a missing PostgreSQL (PostgresEnv
// unset, or its server not answering) from a skip into a failure; CI sets it
// to 1, as it sets BERTH_REQUIRE_DOCKER.
const RequireEnv = "BERTH_REQUIRE_POSTGRES"

// PostgresURL returns the test server's URL, or "" when none is set.
func PostgresURL() string { return os.Getenv(PostgresEnv) }

// SkipWithoutPostgres returns the test server's URL after checking that it
// answers. Without one, t is skipped, saying how to set one, or fails when
// RequireEnv is 1.
func SkipWithoutPostgres(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		unavailable(t, "%s is unset: set it to a PostgreSQL URL (e.g. "+
			"postgres://berth:berth@127.0.0.1:5432/berth_test?sslmode=disable) to run these tests on PostgreSQL", PostgresEnv)
		return ""
	}
	if err := ping(base); err != nil {
		unavailable(t, "PostgreSQL at %s (%s) does not answer: %v", redact(base), PostgresEnv, err)
		return ""
	}
	return base
}

// unavailable skips t, or fails it when RequireEnv is 1. The callers return
// after it, for a testing.TB whose Skipf and Fatalf do not stop the test.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, RequireEnv)
		return
	}
	t.Skipf("%s (set %s=1 to fail instead)", msg, RequireEnv)
}

// ping checks that the server at base accepts a connection and a query.
func ping(base string) error {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// redact hides the password of a URL that is about to be printed.
func redact(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return "an unparsable URL"
	}
	return u.Redacted()
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
// test ends (NewPostgresURL).
func NewPostgres(t testing.TB, base string) Database {
	t.Helper()
	dsn := NewPostgresURL(t, base)
	u, _ := url.Parse(dsn)
	schema := u.Query().Get("search_path")
	return func(t testing.TB) *store.Store {
		t.Helper()
		st := open(t, dsn, "")
		if !st.Postgres() {
			t.Fatalf("store on %s is not PostgreSQL", redact(dsn))
		}
		// The tables must be in the test's schema, not public: that is
		// what keeps tests apart.
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatalf("connect to %s: %v", PostgresEnv, err)
		}
		defer admin.Close()
		var where sql.NullString
		if err := admin.QueryRowContext(context.Background(), "SELECT to_regclass($1)::text", schema+".users").Scan(&where); err != nil || !where.Valid {
			t.Fatalf("the store's tables are not in schema %s (%v): search_path in the URL was not applied", schema, err)
		}
		return st
	}
}

// NewPostgresURL makes a fresh schema on the server at base, dropped when
// the test ends, and returns the URL that reaches it: search_path in the
// URL, which pgx sends to the server as a run-time parameter. A test that
// starts panels as processes hands them this URL.
func NewPostgresURL(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	schema := "t_" + store.NewID(8)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
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
	return u.String()
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
