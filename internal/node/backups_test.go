package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func TestBackupAPIRefusesBadInputNamingTheField(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	ensureOK(t, d, validSpec("inst-1"))
	tests := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"unknown instance", http.MethodPost, "/v1/instances/nope/backups", nodeapi.BackupRequest{ID: "b1"}, http.StatusNotFound, "instance not found"},
		{"missing id", http.MethodPost, "/v1/instances/inst-1/backups", nodeapi.BackupRequest{}, http.StatusBadRequest, "id"},
		{"id with a slash", http.MethodPost, "/v1/instances/inst-1/backups", nodeapi.BackupRequest{ID: "a/b"}, http.StatusBadRequest, "id"},
		{"two-line before", http.MethodPost, "/v1/instances/inst-1/backups", nodeapi.BackupRequest{ID: "b1", Before: "save-off\nstop"}, http.StatusBadRequest, "before"},
		{"long after", http.MethodPost, "/v1/instances/inst-1/backups", nodeapi.BackupRequest{ID: "b1", After: strings.Repeat("x", console.MaxCommandBytes+1)}, http.StatusBadRequest, "after"},
		{"malformed body", http.MethodPost, "/v1/instances/inst-1/backups", `{"id":`, http.StatusBadRequest, "JSON"},
		{"bad backup id", http.MethodGet, "/v1/instances/inst-1/backups/b%201", nil, http.StatusBadRequest, "backupId"},
		{"unknown backup", http.MethodGet, "/v1/instances/inst-1/backups/b9", nil, http.StatusNotFound, "backup not found"},
		{"download of an unknown backup", http.MethodGet, "/v1/instances/inst-1/backups/b9/download", nil, http.StatusNotFound, "backup not found"},
		{"restore of an unknown backup", http.MethodPost, "/v1/instances/inst-1/backups/b9/restore", nodeapi.RestoreRequest{}, http.StatusNotFound, "backup not found"},
		{"restore with a bad body", http.MethodPost, "/v1/instances/inst-1/backups/b9/restore", `{"truncate":"yes"}`, http.StatusBadRequest, "truncate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(t, d, tt.method, tt.path, tt.body)
			if w.Code != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, w.Code, w.Body, tt.status)
			}
			if msg := errorText(t, w); !strings.Contains(msg, tt.field) {
				t.Errorf("error %q does not name %q", msg, tt.field)
			}
		})
	}
	if w := call(t, d, http.MethodDelete, "/v1/instances/inst-1/backups/b9", nil); w.Code != http.StatusNoContent {
		t.Errorf("DELETE of an unknown backup: %d %s, want 204", w.Code, w.Body)
	}
}

func TestRestoreLeavesAStoppedInstanceStopped(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("inst-1")
	ensureOK(t, d, spec)
	if w := power(t, d, spec.ID, nodeapi.ActionStop); w.Code != http.StatusOK {
		t.Fatalf("stop: %d %s", w.Code, w.Body)
	}
	data := d.volumes.Path(spec.ID)
	writeFiles(t, data, map[string]string{"world.dat": "v1"})
	if w := call(t, d, http.MethodPost, "/v1/instances/inst-1/backups", nodeapi.BackupRequest{ID: "b1", Before: "save-off"}); w.Code != http.StatusAccepted {
		t.Fatalf("create: %d %s, want 202", w.Code, w.Body)
	}
	getBackup := func() nodeapi.BackupStatus {
		w := call(t, d, http.MethodGet, "/v1/instances/inst-1/backups/b1", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET backup: %d %s", w.Code, w.Body)
		}
		return decode[nodeapi.BackupStatus](t, w)
	}
	waitFor(t, "the backup", func() bool { return getBackup().State == nodeapi.BackupCompleted })
	writeFiles(t, data, map[string]string{"world.dat": "v2"})
	if w := call(t, d, http.MethodPost, "/v1/instances/inst-1/backups/b1/restore", nodeapi.RestoreRequest{Truncate: true}); w.Code != http.StatusAccepted {
		t.Fatalf("restore: %d %s, want 202", w.Code, w.Body)
	}
	waitFor(t, "the restore", func() bool { return getBackup().Restore == nodeapi.RestoreCompleted })
	if b, err := os.ReadFile(filepath.Join(data, "world.dat")); err != nil || string(b) != "v1" {
		t.Errorf("world.dat after the restore = %q, %v; want v1", b, err)
	}
	if st := getStatus(t, d, spec.ID); st.Running {
		t.Errorf("a restore started a stopped instance: %+v", st)
	}
	entries, err := os.ReadDir(d.volumes.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("volumes folder after a restore holds %d entries, want only the data folder", len(entries))
	}
}

func TestStartPutsBackTheOldFolderOfARestoreCutMidSwap(t *testing.T) {
	rt := fake.New()
	dir := t.TempDir()
	d := newTestDaemonIn(t, rt, dir, nil)
	ensureOK(t, d, validSpec("inst-1"))
	d.Close()
	// What a kill between the swap's two renames leaves.
	vols := d.volumes.Dir()
	staging := filepath.Join(vols, restorePrefix+"inst-1")
	if err := os.MkdirAll(filepath.Join(staging, stagedData), 0o750); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(vols, "inst-1"), map[string]string{"world.dat": "old"})
	if err := os.Rename(filepath.Join(vols, "inst-1"), filepath.Join(staging, stagedOld)); err != nil {
		t.Fatal(err)
	}
	newTestDaemonIn(t, rt, dir, nil)
	if b, err := os.ReadFile(filepath.Join(vols, "inst-1", "world.dat")); err != nil || string(b) != "old" {
		t.Errorf("data folder after the start = %q, %v; want the old folder back", b, err)
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Errorf("staging folder left: %v", err)
	}
}

func TestBackupInS3RestoresThroughTheNode(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("berth"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	rt := fake.New()
	d := newTunedTestDaemon(t, rt, t.TempDir(), nil, func(c *Config) {
		c.BackupS3 = BackupS3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "berth", Region: "us-east-1",
			Insecure: true, AccessKey: "access", SecretKey: "secret-key"}
	})
	spec := validSpec("inst-1")
	ensureOK(t, d, spec)
	data := d.volumes.Path(spec.ID)
	writeFiles(t, data, map[string]string{"world.dat": "v1"})
	c := serveAPI(t, d)
	if _, err := c.CreateBackup(t.Context(), spec.ID, nodeapi.BackupRequest{ID: "b1"}); err != nil {
		t.Fatal(err)
	}
	var st nodeapi.BackupStatus
	waitFor(t, "the backup", func() bool {
		st, _ = c.GetBackup(t.Context(), spec.ID, "b1")
		return st.State != nodeapi.BackupCreating
	})
	if st.State != nodeapi.BackupCompleted {
		t.Fatalf("backup = %+v, want completed", st)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, "backups", spec.ID, "b1.tar.gz")); !os.IsNotExist(err) {
		t.Errorf("an S3 backup has a copy on the node's disk: %v", err)
	}
	s, err := c.DownloadBackup(t.Context(), spec.ID, "b1", http.Header{"Range": {"bytes=10-19"}})
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(s.Body)
	s.Close()
	if s.Status != http.StatusPartialContent || len(part) != 10 {
		t.Errorf("ranged download from S3 = %d, %d bytes; want 206 with 10", s.Status, len(part))
	}
	writeFiles(t, data, map[string]string{"world.dat": "v2"})
	if _, err := c.RestoreBackup(t.Context(), spec.ID, "b1", nodeapi.RestoreRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restore", func() bool {
		st, _ = c.GetBackup(t.Context(), spec.ID, "b1")
		return st.Restore != nodeapi.RestoreRunning
	})
	if b, _ := os.ReadFile(filepath.Join(data, "world.dat")); st.Restore != nodeapi.RestoreCompleted || string(b) != "v1" {
		t.Errorf("restore from S3 = %q %q, world.dat %q; want completed, v1", st.Restore, st.RestoreError, b)
	}
	if st, err := d.inspect(t.Context(), spec.ID); err != nil || st == nil || !st.Running {
		t.Errorf("the running instance is not running after the restore: %+v, %v", st, err)
	}
}

// A write during a restore would land in the folder the swap deletes: the
// file API and SFTP refuse it until the restore ends.
func TestWritesAreRefusedWhileARestoreRuns(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	fileInstance(t, d, "inst-1", 0)
	if w := call(t, d, http.MethodPost, "/v1/instances/inst-1/backups", nodeapi.BackupRequest{ID: "b1"}); w.Code != http.StatusAccepted {
		t.Fatalf("create: %d %s, want 202", w.Code, w.Body)
	}
	waitFor(t, "the backup", func() bool {
		st, err := d.backups.Status("inst-1", "b1")
		return err == nil && st.State == nodeapi.BackupCompleted
	})
	release, ran := make(chan struct{}), make(chan struct{})
	var once sync.Once
	// Runs before the daemon's cleanup, which waits for the restore.
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	if _, err := d.backups.Restore("inst-1", "b1", func(ctx context.Context, _ func(context.Context, io.Writer) error) error {
		defer close(ran)
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	base := "/v1/instances/inst-1/files"
	w := callRaw(t, d, http.MethodPut, base+"/content?path=a.txt", strings.NewReader("x"), "")
	if msg := expectStatus(t, w, http.StatusConflict, "write during a restore"); msg != "a restore of this instance is running" {
		t.Errorf("write during a restore answered %q", msg)
	}
	if _, err := d.sftpFolder(context.Background(), "inst-1"); !errors.Is(err, errRestoring) {
		t.Errorf("SFTP folder during a restore: %v, want refused", err)
	}
	expectStatus(t, call(t, d, http.MethodGet, base, nil), http.StatusOK, "list during a restore")
	once.Do(func() { close(release) })
	<-ran
	waitFor(t, "the restore's end", func() bool { return !d.backups.Restoring("inst-1") })
	expectStatus(t, callRaw(t, d, http.MethodPut, base+"/content?path=a.txt", strings.NewReader("x"), ""), http.StatusOK, "write after the restore")
}

// A node killed between a backup's before and after commands sends the
// after command to the running instance once it starts again.
func TestStartSendsTheAfterOfABackupCutOffByAKill(t *testing.T) {
	rt := fake.New()
	dir := t.TempDir()
	d := newTestDaemonIn(t, rt, dir, nil)
	ensureOK(t, d, validSpec("inst-1"))
	d.Close()
	// What a kill mid-backup leaves: the record still creating.
	rec := `{"id": "b1", "state": "creating", "storage": "local", "after": "save-on"}`
	writeFiles(t, filepath.Join(dir, "backups", "inst-1"), map[string]string{"b1.json": rec})
	d = newTestDaemonIn(t, rt, dir, nil)
	waitFor(t, "the after command", func() bool {
		c, _ := rt.Container("inst-1")
		return slices.Contains(c.Stdin, "save-on")
	})
	if st, err := d.backups.Status("inst-1", "b1"); err != nil || st.State != nodeapi.BackupFailed {
		t.Errorf("cut backup = %+v, %v; want failed", st, err)
	}
}
