package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/klauspost/pgzip"
)

// writeTree makes the files of tree (name -> content; a content starting
// with "->" makes a symbolic link to the rest) under dir.
func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := bytes.CutPrefix([]byte(content), []byte("->")); ok {
			if err := os.Symlink(string(target), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarEntry is what a test checks of an archive's entry.
type tarEntry struct {
	typ  byte
	link string
	body string
}

// readArchive lists a tar.gz's entries.
func readArchive(t *testing.T, r io.Reader) map[string]tarEntry {
	t.Helper()
	gz, err := pgzip.NewReader(r)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = tarEntry{typ: h.Typeflag, link: h.Linkname, body: string(b)}
	}
}

func TestWriteHonoursBothIgnoreFilesAndStoresLinksAsLinks(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("not for the archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{
		".berthignore":         "# comment\nlogs/\n*.key\n",
		".pteroignore":         "cache\n!cache/keep\n",
		"server.properties":    "motd=hi",
		"world/level.dat":      "level",
		"logs/latest.log":      "log",
		"plugins/logs":         "a file named like an ignored folder",
		"cert.key":             "key",
		"config/db.key":        "key",
		"cache/blob":           "cache",
		"link-in":              "->server.properties",
		"link-out":             "->" + outside,
		"world/region/r.0.mca": "region",
	})
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var buf bytes.Buffer
	if err := Write(t.Context(), root, &buf); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := readArchive(t, &buf)
	tests := []struct {
		name string
		want *tarEntry
	}{
		{".berthignore", &tarEntry{typ: tar.TypeReg, body: "# comment\nlogs/\n*.key\n"}},
		{"server.properties", &tarEntry{typ: tar.TypeReg, body: "motd=hi"}},
		{"world/", &tarEntry{typ: tar.TypeDir}},
		{"world/level.dat", &tarEntry{typ: tar.TypeReg, body: "level"}},
		{"world/region/r.0.mca", &tarEntry{typ: tar.TypeReg, body: "region"}},
		{"plugins/logs", &tarEntry{typ: tar.TypeReg, body: "a file named like an ignored folder"}},
		{"link-in", &tarEntry{typ: tar.TypeSymlink, link: "server.properties"}},
		{"link-out", &tarEntry{typ: tar.TypeSymlink, link: outside}},
		{"logs/", nil},
		{"logs/latest.log", nil},
		{"cert.key", nil},
		{"config/db.key", nil},
		{"cache/", nil},
		{"cache/blob", nil},
	}
	for _, tt := range tests {
		e, ok := got[tt.name]
		switch {
		case tt.want == nil && ok:
			t.Errorf("%s is in the archive; the ignore files leave it out", tt.name)
		case tt.want != nil && !ok:
			t.Errorf("%s is missing from the archive", tt.name)
		case tt.want != nil && e != *tt.want:
			t.Errorf("%s = %+v, want %+v", tt.name, e, *tt.want)
		}
	}
}

// recorder is a Source's console: it keeps the commands typed.
type recorder struct {
	mu    sync.Mutex
	lines []string
	err   error
}

func (r *recorder) command(line string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	return r.err
}

func (r *recorder) typed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func folderSource(dir string, rec *recorder) Source {
	return Source{Open: func() (*os.Root, error) { return os.OpenRoot(dir) }, Command: rec.command}
}

func newTestService(t *testing.T, dir string, s3 S3Config) *Service {
	t.Helper()
	s, err := New(dir, s3, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Recover(); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitUntil polls a backup until done accepts its status.
func waitUntil(t *testing.T, s *Service, instance, id string, done func(nodeapi.BackupStatus) bool) nodeapi.BackupStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := s.Status(instance, id)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if done(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup %s still at %+v", id, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitBackup polls a backup until it leaves creating.
func waitBackup(t *testing.T, s *Service, instance, id string) nodeapi.BackupStatus {
	t.Helper()
	return waitUntil(t, s, instance, id, func(st nodeapi.BackupStatus) bool { return st.State != nodeapi.BackupCreating })
}

// waitRestore polls a backup until its restore ends.
func waitRestore(t *testing.T, s *Service, instance, id string) nodeapi.BackupStatus {
	t.Helper()
	return waitUntil(t, s, instance, id, func(st nodeapi.BackupStatus) bool { return st.Restore != nodeapi.RestoreRunning })
}

// readAll reads a completed backup's archive whole.
func readAll(t *testing.T, s *Service, instance, id string) []byte {
	t.Helper()
	r, _, err := s.Open(t.Context(), instance, id)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func TestCreateOnDiskSendsCommandsAroundTheArchive(t *testing.T) {
	data := t.TempDir()
	writeTree(t, data, map[string]string{"world/level.dat": "level", "server.properties": "motd=hi"})
	dir := t.TempDir()
	s := newTestService(t, dir, S3Config{})
	rec := &recorder{}
	st, err := s.Create("inst-1", nodeapi.BackupRequest{ID: "b1", Before: "save-off", After: "save-on"}, folderSource(data, rec))
	if err != nil || st.State != nodeapi.BackupCreating {
		t.Fatalf("Create = %+v, %v; want creating", st, err)
	}
	st = waitBackup(t, s, "inst-1", "b1")
	if st.State != nodeapi.BackupCompleted || st.Error != "" {
		t.Fatalf("backup = %+v, want completed", st)
	}
	if got := rec.typed(); !slices.Equal(got, []string{"save-off", "save-on"}) {
		t.Errorf("commands = %q, want save-off then save-on", got)
	}
	b := readAll(t, s, "inst-1", "b1")
	sum := sha256.Sum256(b)
	if st.Bytes != int64(len(b)) || st.SHA256 != hex.EncodeToString(sum[:]) || st.CompletedAt.IsZero() {
		t.Errorf("status %+v does not describe the %d-byte archive %x", st, len(b), sum)
	}
	if e := readArchive(t, bytes.NewReader(b)); e["world/level.dat"].body != "level" {
		t.Errorf("archive = %+v, want world/level.dat", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "inst-1", "b1.tar.gz")); err != nil {
		t.Errorf("archive not on the node's disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "b1.tar.gz")); err == nil {
		t.Error("archive written inside the instance's folder")
	}

	// The same ID again answers the same backup and starts nothing.
	again, err := s.Create("inst-1", nodeapi.BackupRequest{ID: "b1", Before: "save-off"}, folderSource(data, rec))
	if err != nil || again.SHA256 != st.SHA256 || again.State != nodeapi.BackupCompleted {
		t.Errorf("Create again = %+v, %v; want the completed backup", again, err)
	}
	if n := len(rec.typed()); n != 2 {
		t.Errorf("Create again typed commands: %d in all, want 2", n)
	}

	if err := s.Delete(t.Context(), "inst-1", "b1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Status("inst-1", "b1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status after Delete: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "inst-1", "b1.tar.gz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("archive left after Delete: %v", err)
	}
	if err := s.Delete(t.Context(), "inst-1", "b1"); err != nil {
		t.Errorf("Delete again: %v, want nil", err)
	}
}

func TestAfterIsSentWhenArchivingFails(t *testing.T) {
	s := newTestService(t, t.TempDir(), S3Config{})
	rec := &recorder{}
	src := Source{Open: func() (*os.Root, error) { return nil, errors.New("no data folder") }, Command: rec.command}
	if _, err := s.Create("inst-1", nodeapi.BackupRequest{ID: "b1", Before: "save-off", After: "save-on"}, src); err != nil {
		t.Fatal(err)
	}
	st := waitBackup(t, s, "inst-1", "b1")
	if st.State != nodeapi.BackupFailed || st.Error == "" {
		t.Errorf("backup = %+v, want failed with a reason", st)
	}
	if got := rec.typed(); !slices.Equal(got, []string{"save-off", "save-on"}) {
		t.Errorf("commands = %q, want save-on sent after the failure", got)
	}
}

func TestRecoverFailsBackupsAStopCutOff(t *testing.T) {
	dir := t.TempDir()
	s := newTestService(t, dir, S3Config{})
	for _, r := range []Record{
		{BackupStatus: nodeapi.BackupStatus{ID: "cut", State: nodeapi.BackupCreating}, Storage: StorageLocal},
		{BackupStatus: nodeapi.BackupStatus{ID: "done", State: nodeapi.BackupCompleted, Bytes: 4, Restore: nodeapi.RestoreRunning}, Storage: StorageLocal},
	} {
		if err := s.save("inst-1", r); err != nil {
			t.Fatal(err)
		}
	}
	// What a kill leaves: a temporary file mid-write, or an archive
	// renamed into place whose record was not yet updated.
	writeTree(t, filepath.Join(dir, "inst-1"), map[string]string{".berth-tmp-0123": "partial", "cut.tar.gz": "whole", "done.tar.gz": "kept"})
	s.Close()

	s = newTestService(t, dir, S3Config{})
	cut, err := s.Status("inst-1", "cut")
	if err != nil || cut.State != nodeapi.BackupFailed || cut.Error != "the node stopped during the backup" {
		t.Errorf("cut backup = %+v, %v; want failed, the node stopped during the backup", cut, err)
	}
	done, err := s.Status("inst-1", "done")
	if err != nil || done.State != nodeapi.BackupCompleted || done.Restore != nodeapi.RestoreFailed || done.RestoreError != "the node stopped during the restore" {
		t.Errorf("completed backup = %+v, %v; want kept, its restore failed", done, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "inst-1"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"cut.json", "done.json", "done.tar.gz"}; !slices.Equal(names, want) {
		t.Errorf("backups folder = %q, want %q", names, want)
	}
}

// A node killed between a backup's Before and After sends the After at its
// next start, once, to the instance's console.
func TestRecoverSendsTheAfterOfABackupCutOffOnce(t *testing.T) {
	dir := t.TempDir()
	s := newTestService(t, dir, S3Config{})
	for _, r := range []Record{
		{BackupStatus: nodeapi.BackupStatus{ID: "cut", State: nodeapi.BackupCreating}, Storage: StorageLocal, After: "save-on"},
		{BackupStatus: nodeapi.BackupStatus{ID: "plain", State: nodeapi.BackupCreating}, Storage: StorageLocal},
	} {
		if err := s.save("inst-1", r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for i, want := range [][]string{{"inst-1 save-on"}, nil} {
		s = newTestService(t, dir, S3Config{})
		var sent []string
		s.SendInterruptedAfters(func(instance, line string) error {
			sent = append(sent, instance+" "+line)
			return nil
		})
		if !slices.Equal(sent, want) {
			t.Errorf("start %d sent %q, want %q", i+1, sent, want)
		}
		if st, err := s.Status("inst-1", "cut"); err != nil || st.State != nodeapi.BackupFailed {
			t.Errorf("start %d: cut backup = %+v, %v; want failed", i+1, st, err)
		}
		s.Close()
	}
}

func TestRemoveInstanceRemovesEveryBackup(t *testing.T) {
	data := t.TempDir()
	writeTree(t, data, map[string]string{"a": "a"})
	dir := t.TempDir()
	s := newTestService(t, dir, S3Config{})
	for _, id := range []string{"b1", "b2"} {
		if _, err := s.Create("inst-1", nodeapi.BackupRequest{ID: id}, folderSource(data, &recorder{})); err != nil {
			t.Fatal(err)
		}
		waitBackup(t, s, "inst-1", id)
	}
	if err := s.RemoveInstance(t.Context(), "inst-1"); err != nil {
		t.Fatalf("RemoveInstance: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "inst-1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backups of a removed instance left: %v", err)
	}
}

func TestRestoreGetsTheArchiveAndRecordsTheEnd(t *testing.T) {
	data := t.TempDir()
	writeTree(t, data, map[string]string{"a": "a"})
	s := newTestService(t, t.TempDir(), S3Config{})
	if _, err := s.Create("inst-1", nodeapi.BackupRequest{ID: "b1"}, folderSource(data, &recorder{})); err != nil {
		t.Fatal(err)
	}
	st := waitBackup(t, s, "inst-1", "b1")
	tests := []struct {
		name      string
		fail      error
		want, msg string
	}{
		{"success", nil, nodeapi.RestoreCompleted, ""},
		{"failure", errors.New("extract the backup: corrupt"), nodeapi.RestoreFailed, "extract the backup: corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			if _, err := s.Restore("inst-1", "b1", func(ctx context.Context, fetch func(context.Context, io.Writer) error) error {
				if err := fetch(ctx, &got); err != nil {
					return err
				}
				return tt.fail
			}); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			end := waitRestore(t, s, "inst-1", "b1")
			if end.Restore != tt.want || end.RestoreError != tt.msg {
				t.Errorf("restore = %q %q, want %q %q", end.Restore, end.RestoreError, tt.want, tt.msg)
			}
			sum := sha256.Sum256(got.Bytes())
			if hex.EncodeToString(sum[:]) != st.SHA256 {
				t.Error("the restore fetched other bytes than the archive")
			}
		})
	}
	if _, err := s.Restore("inst-1", "nope", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Restore of an unknown backup: %v, want ErrNotFound", err)
	}
}

// randomFile writes n random (incompressible) bytes to name.
func randomFile(t *testing.T, name string, n int) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
