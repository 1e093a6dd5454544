package node

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// These tests back up and restore an instance of the test game server on
// the real Docker engine, through the node's API.

// waitBackupState polls a backup until cond accepts its status.
func waitBackupState(t *testing.T, c *nodeapi.Client, id, backupID, what string, cond func(nodeapi.BackupStatus) bool) nodeapi.BackupStatus {
	t.Helper()
	var st nodeapi.BackupStatus
	waitForLong(t, what, func() bool {
		var err error
		st, err = c.GetBackup(t.Context(), id, backupID)
		if err != nil {
			t.Fatalf("GetBackup %s: %v", backupID, err)
		}
		return cond(st)
	})
	return st
}

func backupEnded(st nodeapi.BackupStatus) bool { return st.State != nodeapi.BackupCreating }

func restoreEnded(st nodeapi.BackupStatus) bool { return st.Restore != nodeapi.RestoreRunning }

// folderState describes a folder: each path with its content, "->target"
// for a link, "/" for a folder.
func folderState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[rel] = "->" + target
			return err
		case e.IsDir():
			out[rel] = "/"
		default:
			b, err := os.ReadFile(p)
			out[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// download reads a backup's archive, with header (Range, If-Range) sent.
func download(t *testing.T, c *nodeapi.Client, id, backupID string, header http.Header) (int, []byte) {
	t.Helper()
	s, err := c.DownloadBackup(t.Context(), id, backupID, header)
	if err != nil {
		t.Fatalf("DownloadBackup: %v", err)
	}
	defer s.Close()
	b, err := io.ReadAll(s.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status, b
}

// archiveNames lists a tar.gz's entries, each with its type.
func archiveNames(t *testing.T, b []byte) map[string]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h.Typeflag
	}
}

func TestDockerBackupOfARunningGameRestoresAndDownloads(t *testing.T) {
	t.Parallel()
	n, c, spec, _ := startGame(t, nil, nil)
	data := n.d.volumes.Path(spec.ID)
	writeFiles(t, data, map[string]string{
		".berthignore":    "logs/\n",
		".pteroignore":    "*.tmp\n",
		"world/level.dat": "v1",
		"logs/latest.log": "log",
		"cache.tmp":       "tmp",
	})
	if err := os.Symlink("world/level.dat", filepath.Join(data, "level-link")); err != nil {
		t.Fatal(err)
	}

	st, err := c.CreateBackup(t.Context(), spec.ID, nodeapi.BackupRequest{ID: "b1", Before: "say before-backup", After: "say after-backup"})
	if err != nil || st.ID != "b1" {
		t.Fatalf("CreateBackup = %+v, %v", st, err)
	}
	st = waitBackupState(t, c, spec.ID, "b1", "the backup", backupEnded)
	if st.State != nodeapi.BackupCompleted {
		t.Fatalf("backup = %+v, want completed", st)
	}
	waitFor(t, "the Before and After commands in the game's log", func() bool {
		lines, err := n.rt.Logs(t.Context(), spec.ID, 100)
		log := strings.Join(lines, "\n")
		b, a := strings.Index(log, "before-backup"), strings.Index(log, "after-backup")
		return err == nil && b >= 0 && a > b
	})

	status, whole := download(t, c, spec.ID, "b1", nil)
	sum := sha256.Sum256(whole)
	if status != http.StatusOK || int64(len(whole)) != st.Bytes || hex.EncodeToString(sum[:]) != st.SHA256 {
		t.Fatalf("download = %d, %d bytes; want 200 with the %d-byte archive %s", status, len(whole), st.Bytes, st.SHA256)
	}
	names := archiveNames(t, whole)
	for name, want := range map[string]byte{"world/level.dat": tar.TypeReg, "level-link": tar.TypeSymlink, ".berthignore": tar.TypeReg} {
		if names[name] != want {
			t.Errorf("archive entry %s has type %q, want %q", name, names[name], want)
		}
	}
	for _, left := range []string{"logs/", "logs/latest.log", "cache.tmp"} {
		if _, ok := names[left]; ok {
			t.Errorf("archive holds %s, which an ignore file leaves out", left)
		}
	}
	ranged := http.Header{"Range": {"bytes=100-199"}, "If-Range": {`"` + st.SHA256 + `"`}}
	if status, part := download(t, c, spec.ID, "b1", ranged); status != http.StatusPartialContent || !bytes.Equal(part, whole[100:200]) {
		t.Errorf("ranged download = %d, %d bytes; want 206 with bytes 100-199", status, len(part))
	}
	stale := http.Header{"Range": {"bytes=100-199"}, "If-Range": {`"another"`}}
	if status, all := download(t, c, spec.ID, "b1", stale); status != http.StatusOK || len(all) != len(whole) {
		t.Errorf("download with a stale If-Range = %d, %d bytes; want 200 with the whole archive", status, len(all))
	}

	// Restore over changed files, keeping what the archive lacks.
	writeFiles(t, data, map[string]string{"world/level.dat": "v2", "new.txt": "new"})
	if err := os.Remove(filepath.Join(data, "level-link")); err != nil {
		t.Fatal(err)
	}
	restoreOK(t, n, c, spec.ID, "b1", false)
	got := folderState(t, data)
	for name, want := range map[string]string{"world/level.dat": "v1", "new.txt": "new", "logs/latest.log": "log", "level-link": "->world/level.dat"} {
		if got[name] != want {
			t.Errorf("after a restore, %s = %q, want %q", name, got[name], want)
		}
	}
	info, err := os.Stat(filepath.Join(data, "world/level.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := info.Sys().(*syscall.Stat_t).Uid; int(uid) != n.d.volumes.Owner().UID {
		t.Errorf("a restored file is owned by %d, want the container user %d", uid, n.d.volumes.Owner().UID)
	}

	// With truncate, the archive's content is the whole folder.
	restoreOK(t, n, c, spec.ID, "b1", true)
	got = folderState(t, data)
	for _, gone := range []string{"new.txt", "logs/latest.log", "cache.tmp"} {
		if _, ok := got[gone]; ok {
			t.Errorf("after a truncating restore, %s is still there", gone)
		}
	}
	if got["world/level.dat"] != "v1" {
		t.Errorf("after a truncating restore, world/level.dat = %q, want v1", got["world/level.dat"])
	}

	// A restore from a damaged archive fails and leaves the folder as it was.
	if _, err := c.CreateBackup(t.Context(), spec.ID, nodeapi.BackupRequest{ID: "b2"}); err != nil {
		t.Fatal(err)
	}
	if st := waitBackupState(t, c, spec.ID, "b2", "the second backup", backupEnded); st.State != nodeapi.BackupCompleted {
		t.Fatalf("second backup = %+v", st)
	}
	archive := filepath.Join(n.dir, "backups", spec.ID, "b2.tar.gz")
	if err := os.WriteFile(archive, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, data, map[string]string{"world/level.dat": "v3"})
	before := folderState(t, data)
	if _, err := c.RestoreBackup(t.Context(), spec.ID, "b2", nodeapi.RestoreRequest{Truncate: true}); err != nil {
		t.Fatal(err)
	}
	end := waitBackupState(t, c, spec.ID, "b2", "the failed restore", restoreEnded)
	if end.Restore != nodeapi.RestoreFailed || end.RestoreError == "" {
		t.Errorf("restore of a damaged archive = %q %q, want failed with a reason", end.Restore, end.RestoreError)
	}
	after := folderState(t, data)
	// The game writes these as it stops and starts, which a restore does.
	for _, m := range []map[string]string{before, after} {
		delete(m, "ready.txt")
		delete(m, "signal.txt")
	}
	if !maps.Equal(after, before) {
		t.Errorf("a failed restore changed the folder:\nbefore %v\nafter  %v", before, after)
	}
	waitRunning(t, n, spec.ID)

	if err := c.DeleteBackup(t.Context(), spec.ID, "b1"); err != nil {
		t.Fatalf("DeleteBackup: %v", err)
	}
	if _, err := c.GetBackup(t.Context(), spec.ID, "b1"); !nodeapi.IsNotFound(err) {
		t.Errorf("GetBackup after delete: %v, want not found", err)
	}
	if err := c.RemoveInstance(t.Context(), spec.ID); err != nil {
		t.Fatalf("RemoveInstance: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.dir, "backups", spec.ID)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a removed instance's backups are left: %v", err)
	}
}

// restoreOK restores a backup and waits for it to complete and for the
// game to run again.
func restoreOK(t *testing.T, n *dockerNode, c *nodeapi.Client, id, backupID string, truncate bool) {
	t.Helper()
	st, err := c.RestoreBackup(t.Context(), id, backupID, nodeapi.RestoreRequest{Truncate: truncate})
	if err != nil || st.Restore != nodeapi.RestoreRunning {
		t.Fatalf("RestoreBackup = %+v, %v; want running", st, err)
	}
	end := waitBackupState(t, c, id, backupID, "the restore", restoreEnded)
	if end.Restore != nodeapi.RestoreCompleted {
		t.Fatalf("restore (truncate %v) = %q %q, want completed", truncate, end.Restore, end.RestoreError)
	}
	waitRunning(t, n, id)
}

// waitRunning waits until the instance's container runs.
func waitRunning(t *testing.T, n *dockerNode, id string) {
	t.Helper()
	waitForLong(t, id+" running", func() bool {
		st, err := n.rt.Inspect(t.Context(), id)
		return err == nil && st.Running
	})
}

// writeFiles writes each file of tree under dir.
func writeFiles(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
