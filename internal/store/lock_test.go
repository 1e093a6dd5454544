package store_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/store"
)

// TestLockPanelRefusesASecondPanelOnOneSQLiteFile: the second claim of one
// SQLite database fails, saying why and what to do; once released, the
// database can be claimed again; PostgreSQL takes no lock.
func TestLockPanelRefusesASecondPanelOnOneSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	release, err := store.LockPanel("", dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.LockPanel("", dir)
	if err == nil || !strings.Contains(err.Error(), "another panel is running") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("second lock: %v; want a refusal naming PostgreSQL", err)
	}
	release()
	again, err := store.LockPanel("", dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
	for range 2 {
		release, err := store.LockPanel("postgres://berth@127.0.0.1/berth", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
}
