package node

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/secret"
)

// buildBerth builds the berth binary into a temporary folder.
func buildBerth(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/berth")
	cmd.Dir = filepath.Join("..", "..") // go test runs in internal/node
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/berth: %v\n%s", err, out)
	}
	return bin
}

// nodeProcess is `berth node` running as its own process.
type nodeProcess struct {
	cmd *exec.Cmd
	c   *nodeapi.Client
}

// startNodeProcess runs `berth node` over dir and waits until it answers.
func startNodeProcess(t *testing.T, bin, dir, addr string) *nodeProcess {
	t.Helper()
	cmd := exec.Command(bin, "node", "-data", dir, "-listen", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProcess{cmd: cmd, c: nodeapi.NewClient("http://"+addr, testToken, nil)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitForLong(t, "the node process to answer", func() bool {
		_, err := p.c.Health(t.Context())
		return err == nil
	})
	return p
}

func TestNodeKilledMidBackupMarksItFailedAndLeavesNoPartialFile(t *testing.T) {
	dockertest.RequireDocker(t) // `berth node` connects to the engine
	bin := buildBerth(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	portNum, _ := strconv.Atoi(port)
	if err := WriteConfigFile(dir, ConfigFile{NodeID: "kill-test", TokenSHA256: secret.Hash(testToken), Address: "127.0.0.1", Port: portNum}); err != nil {
		t.Fatal(err)
	}
	// An instance the node knows, with a folder big and incompressible
	// enough that its backup takes a while; it has no container, and
	// needs none to be backed up.
	const id = "kill-backup"
	spec := validSpec(id)
	if err := records.NewStore(filepath.Join(dir, "instances")).Save(id, records.Record{Spec: spec}); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "volumes", id)
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range 8 {
		f, err := os.Create(filepath.Join(data, fmt.Sprintf("region-%d.bin", i)))
		if err != nil {
			t.Fatal(err)
		}
		for range 64 {
			_, _ = rand.Read(chunk)
			if _, err := f.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
	}

	p := startNodeProcess(t, bin, dir, addr)
	if _, err := p.c.CreateBackup(t.Context(), id, nodeapi.BackupRequest{ID: "b1"}); err != nil {
		t.Fatalf("CreateBackup: %v", err)
	}
	// Killed once the archive is under way, and before it is done.
	var last nodeapi.BackupStatus
	waitForLong(t, "the backup to be under way", func() bool {
		last, err = p.c.GetBackup(t.Context(), id, "b1")
		return err == nil && last.Written > 0
	})
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	if last.State != nodeapi.BackupCreating {
		t.Fatalf("the backup ended (%+v) before the kill: the test proves nothing", last)
	}

	p = startNodeProcess(t, bin, dir, addr)
	st, err := p.c.GetBackup(t.Context(), id, "b1")
	if err != nil {
		t.Fatalf("GetBackup after the restart: %v", err)
	}
	if st.State != nodeapi.BackupFailed || st.Error != "the node stopped during the backup" {
		t.Errorf("backup after the restart = %+v, want failed: the node stopped during the backup", st)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "backups", id))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"b1.json"}) {
		t.Errorf("backups folder after the restart = %q, want only the record", names)
	}
	if _, err := p.c.DownloadBackup(t.Context(), id, "b1", nil); err == nil {
		t.Errorf("download of a failed backup: %v, want a refusal", err)
	}
}
