package store_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/store"
)

// TestDatabaseFilesAreOwnerOnly: berth.db and its WAL and shared-memory
// files hold password hashes and node tokens, so only Berth's user may read
// them, whatever the umask, in a data folder that already exists, and also
// when an older Berth left the files readable by others.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, c := range []struct {
		name string
		// prepare readies the data folder before the store opens it.
		prepare func(t *testing.T, dir string)
	}{
		{"new file in an existing folder", func(*testing.T, string) {}},
		{"older looser files", func(t *testing.T, dir string) {
			st, err := store.Open(ctx, "", dir)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			for _, name := range []string{store.SQLiteFile, store.SQLiteFile + "-wal", store.SQLiteFile + "-shm"} {
				p := filepath.Join(dir, name)
				if name != store.SQLiteFile {
					// Closing removed them; an empty WAL is a valid one.
					if err := os.WriteFile(p, nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.prepare(t, dir)
			st, err := store.Open(ctx, "", dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			// A write, so that the WAL and shared-memory files exist.
			if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "x"}); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{store.SQLiteFile, store.SQLiteFile + "-wal", store.SQLiteFile + "-shm"} {
				info, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if perm := info.Mode().Perm(); perm&0o077 != 0 {
					t.Errorf("%s has mode %v, want no access for group and others", name, fs.FileMode(perm))
				}
			}
		})
	}
}
