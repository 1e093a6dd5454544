// Package store holds every SQL statement Berth runs. It speaks to SQLite
// (the embedded default) and PostgreSQL through one set of portable
// statements, applies the embedded migrations at open, and leaves
// uniqueness to the database's indexes rather than check-then-insert.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/berth-dev/berth/internal/fault"
)

// Store is the panel's database.
type Store struct {
	// write serializes writers. On SQLite it has a single connection, so
	// writers queue in Go instead of spinning on SQLITE_BUSY; on PostgreSQL
	// it is the same pool as read.
	write *sql.DB
	read  *sql.DB
	pg    bool
	// url is the PostgreSQL connection string, for the connection that
	// listens to other panels' changes (Listen); empty on SQLite.
	url string
	// origin names this process's connections to PostgreSQL (their
	// application_name), so that Listen can tell its own writes' echoes
	// from other panels' writes.
	origin string
	// bytewise follows each text column of an ORDER BY, so that text
	// sorts by its bytes on both databases: SQLite compares bytes, while
	// PostgreSQL would use the database's locale, which puts "a" before
	// "B" and "é" before "f".
	bytewise string
	// version counts the writes this process has made, so that callers can
	// cache what they read until the next write.
	version atomic.Uint64
	// changes says which instances the latest writes changed (changes.go).
	changes changeLog
	// stmts caches prepared read statements by their text: parsing SQL
	// costs more than running a primary-key lookup.
	stmts sync.Map
}

// SQLiteFile is the database file's name inside the data folder.
const SQLiteFile = "berth.db"

// Open connects to the database named by url and applies migrations. A
// postgres:// (or postgresql://) url selects PostgreSQL; anything else is a
// SQLite file path, and an empty url means SQLiteFile inside dataDir.
func Open(ctx context.Context, url, dataDir string) (*Store, error) {
	var s *Store
	var err error
	if isPostgres(url) {
		s, err = openPostgres(url)
	} else {
		if url == "" {
			url = filepath.Join(dataDir, SQLiteFile)
		}
		s, err = openSQLite(url)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.installNotify(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openPostgres(dsn string) (*Store, error) {
	origin := "berth-" + rand.Text()[:12]
	u, err := url.Parse(dsn)
	if err != nil {
		// Not echoed: a connection string may hold a password.
		return nil, errors.New("open postgres: the database URL does not parse")
	}
	q := u.Query()
	q.Set("application_name", origin)
	u.RawQuery = q.Encode()
	dsn = u.String()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	return &Store{write: db, read: db, pg: true, url: dsn, origin: origin, bytewise: ` COLLATE "C"`}, nil
}

func openSQLite(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := restrictFiles(path); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// WAL lets readers run beside the writer; busy_timeout covers the rare
	// checkpoint contention; _txlock=immediate takes the write lock at BEGIN
	// so that a transaction never fails half-way upgrading a read lock.
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	return &Store{write: write, read: read}, nil
}

// restrictFiles makes the database file, and its WAL and shared-memory
// files if they exist, readable by Berth's user alone: they hold password
// hashes and node tokens. SQLite creates the WAL and shared-memory files
// with the mode of the database file, so creating that one 0600 before
// SQLite does covers all three whatever the umask. A file left looser by an
// older Berth is tightened rather than refused: refusing would stop every
// panel upgraded from one, to have its operator run the same chmod.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// Postgres reports whether the store runs on PostgreSQL.
func (s *Store) Postgres() bool { return s.pg }

// q adapts a statement written with ? placeholders to the dialect.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	return numberPlaceholders(query)
}

// numberPlaceholders rewrites each ? placeholder as $1, $2, ... for
// PostgreSQL. A ? inside a 'string literal', a "quoted identifier" or a --
// comment is text, not a placeholder, and stays. A quote doubled inside
// one, to escape it, closes and reopens it, which comes to the same. Berth's
// statements use neither E'...' escapes nor $$ quoting, which this does
// not know.
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	var quote byte // the quote character we are inside, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end - 1
			continue
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Version changes whenever this process writes to the database. A reader
// that cached a result may keep serving it while Version is unchanged.
// Writes by other processes (another panel on the same PostgreSQL) are not
// seen; Berth runs one panel per database.
func (s *Store) Version() uint64 { return s.version.Load() }

// prepared returns the read statement for query, preparing it once.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.read.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// query runs a read statement through the statement cache.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs a read statement and scans every row with scan. An empty
// result is an empty slice, never nil, so that it encodes as [].
//
// A row that does not scan or decode is left out, and its error, an
// internal one, is returned beside the other rows: one bad row must not
// hide the rest from a caller that can go on without it, such as the
// reconciler, while a caller that cannot, such as an API list, fails on
// the error. Any other error returns no rows.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	list := []T{}
	var bad []error
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			bad = append(bad, corrupt(err, "stored row"))
			continue
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(bad) > 0 {
		return list, fmt.Errorf("%s: %d row(s) left out: %w", what, len(bad), errors.Join(bad...))
	}
	return list, nil
}

// corrupt marks err as a stored row that does not scan or decode: an
// internal error whatever the cause's own kind (ports.Parse's Invalid,
// say), for the caller asked nothing wrong.
func corrupt(err error, format string, args ...any) error {
	return &fault.Error{Kind: fault.Other, Msg: fmt.Sprintf(format, args...), Err: err}
}

// queryRow is query for a single row; errors surface at Scan.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		// A closed or failed statement's QueryRow reports err at Scan.
		return s.read.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// tx runs fn in a write transaction and commits it when fn succeeds.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.txFor(ctx, nil, fn)
}

// txFor is tx for a write that changes only the instances changed (see
// changeLog.bump).
func (s *Store) txFor(ctx context.Context, changed []string, fn func(*sql.Tx) error) error {
	defer s.bump(changed)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec runs one write statement outside any transaction.
// A statement that changed no row leaves Version alone.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.execFor(ctx, nil, query, args...)
}

// execFor is exec for a write that changes only the instances changed
// (see changeLog.bump).
func (s *Store) execFor(ctx context.Context, changed []string, query string, args ...any) (sql.Result, error) {
	res, err := s.execQuiet(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		s.bump(changed)
	}
	return res, nil
}

// execQuiet is exec for writes that change nothing a cached read shows,
// such as the audit log, so that they do not invalidate caches.
func (s *Store) execQuiet(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.write.ExecContext(ctx, s.q(query), args...)
}

// rowsChanged returns how many rows res changed. A driver that cannot
// tell is an error of its own kind: read as zero rows, it would become a
// missing row or a refused key.
func rowsChanged(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// uniqueViolation reports whether err is a unique-index violation, and the
// violated index or column list as the driver names it.
func uniqueViolation(err error) (string, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return se.Error(), true
		}
		return "", false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName, true
	}
	return "", false
}

// foreignKeyViolation reports whether err is a foreign key violation: a
// row that references one now gone, or the delete of a row still
// referenced.
func foreignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// NewID returns a random identifier of n bytes, hex-encoded.
func NewID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// notFound turns sql.ErrNoRows into a NotExist fault naming what was sought.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.New(fault.NotExist, "%s not found", what)
	}
	return err
}
