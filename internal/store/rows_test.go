package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/berth-dev/berth/internal/fault"
)

// uncountedDriver is SQLite whose results cannot say how many rows they
// changed, as some drivers' cannot.
type uncountedDriver struct{ driver.Driver }

func (d uncountedDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return uncountedConn{c}, nil
}

type uncountedConn struct{ driver.Conn }

func (c uncountedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return uncountedResult{res}, nil
}

type uncountedResult struct{ driver.Result }

func (uncountedResult) RowsAffected() (int64, error) { return 0, errUncounted }

var errUncounted = errors.New("this driver does not count rows")

func init() { sql.Register("sqlite-uncounted", uncountedDriver{&sqlite.Driver{}}) }

// TestUncountedRowsAreAnErrorNotAMissingRow: a driver that cannot count the
// rows a statement changed fails the call with an internal error; it is
// not taken for "no row", which would answer 404 or 403 to a request that
// may well have succeeded.
func TestUncountedRowsAreAnErrorNotAMissingRow(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite-uncounted", "file:"+filepath.Join(t.TempDir(), SQLiteFile)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{write: db, read: db}
	defer s.Close()
	if err := s.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.CreateNode(ctx, Node{ID: "n", Name: "n", Address: "h", Port: 1, Scheme: "http", Status: NodeUnconfigured,
		CreatedAt: now}, "key-hash", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTemplate(ctx, Template{ID: "t", Name: "t", Doc: []byte("{}"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"RenewConfigureKey": func() error { return s.RenewConfigureKey(ctx, "n", "other-hash", now.Add(time.Hour)) },
		"ConfigureNode": func() error {
			_, err := s.ConfigureNode(ctx, "other-hash", "token", "", now)
			return err
		},
		"DeleteTemplate": func() error { return s.DeleteTemplate(ctx, "t") },
	} {
		err := call()
		if !errors.Is(err, errUncounted) || fault.KindOf(err) != fault.Other {
			t.Errorf("%s = %v (kind %v), want the driver's error as an internal one", name, err, fault.KindOf(err))
		}
	}
}
