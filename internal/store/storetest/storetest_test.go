package storetest

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// outcome is a testing.TB that records a skip or a failure instead of
// ending the test, so that SkipWithoutPostgres can be watched deciding.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Helper()                           {}
func (o *outcome) Skipf(format string, args ...any)  { o.skipped = fmt.Sprintf(format, args...) }
func (o *outcome) Fatalf(format string, args ...any) { o.failed = fmt.Sprintf(format, args...) }

// deadServer is a loopback address the test owns whose every connection is
// closed at once: a PostgreSQL that does not answer.
func deadServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return "postgres://berth:secret@" + ln.Addr().String() + "/berth_test?sslmode=disable&connect_timeout=5"
}

func TestMissingPostgresSkipsOrFailsAsRequired(t *testing.T) {
	dead := deadServer(t)
	for _, c := range []struct {
		name, url, require string
		wantFail           bool
	}{
		{"unset", "", "", false},
		{"unset, required", "", "1", true},
		{"unreachable", dead, "", false},
		{"unreachable, required", dead, "1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(PostgresEnv, c.url)
			t.Setenv(RequireEnv, c.require)
			o := &outcome{}
			if got := SkipWithoutPostgres(o); got != "" {
				t.Errorf("SkipWithoutPostgres = %q, want \"\" for a missing server", got)
			}
			switch {
			case c.wantFail && (o.failed == "" || o.skipped != ""):
				t.Errorf("skipped %q, failed %q; want a failure", o.skipped, o.failed)
			case !c.wantFail && (o.skipped == "" || o.failed != ""):
				t.Errorf("skipped %q, failed %q; want a skip", o.skipped, o.failed)
			}
			if msg := o.skipped + o.failed; strings.Contains(msg, "secret") {
				t.Errorf("the message shows the password: %s", msg)
			}
		})
	}
}
