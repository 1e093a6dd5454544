package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// isPostgres reports whether url selects PostgreSQL (see Open).
func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// LockPanel claims the SQLite database that url and dataDir name (as
// Open reads them) for one panel process: several panels on one SQLite
// file would each drive every node and keep caches the others' writes
// never reach, so a second is refused with an error saying why. The lock
// is an flock on a file beside the database; the kernel drops it when the
// process dies, however it dies. On PostgreSQL, which several panels may
// share, it takes nothing. Release with the returned function. Tools
// that open the database beside a running panel (`berth apikey create`)
// do not call it.
func LockPanel(url, dataDir string) (release func(), err error) {
	if isPostgres(url) {
		return func() {}, nil
	}
	if url == "" {
		url = filepath.Join(dataDir, SQLiteFile)
	}
	if err := os.MkdirAll(filepath.Dir(url), 0o750); err != nil {
		return nil, fmt.Errorf("lock the database: %w", err)
	}
	path := url + ".panel-lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another panel is running on the SQLite database %s: one SQLite file serves one panel; "+
				"stop the other, or use PostgreSQL (-database postgres://...) to run several panels", url)
		}
		return nil, fmt.Errorf("lock the database: %w", err)
	}
	return func() { f.Close() }, nil
}
