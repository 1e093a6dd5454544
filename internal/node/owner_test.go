package node

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// containerUID is the default container user's uid and gid.
const containerUID = 988

// requireRoot skips a test that must change files' owners.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
}

// ownerOf is the uid and gid of p, not following a link at its end.
func ownerOf(t testing.TB, p string) (uid, gid int) {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// expectTreeOwnedBy fails unless dir and everything under it belongs to
// uid:gid.
func expectTreeOwnedBy(t testing.TB, dir string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if u, g := ownerOf(t, p); u != uid || g != gid {
			t.Errorf("%s is owned by %d:%d, want %d:%d", p, u, g, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewRefusesABadContainerUserAndWarnsOfRoot(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), TokenSHA256: secret.Hash(testToken), ContainerUser: "games"}
	if _, err := New(cfg, fake.New(), nil); err == nil || !strings.Contains(err.Error(), "uid:gid") {
		t.Errorf("New with container user %q: %v, want an error naming uid:gid", cfg.ContainerUser, err)
	}

	var logs bytes.Buffer
	cfg.ContainerUser = "0:0"
	d, err := New(cfg, fake.New(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("New with root asked for: %v", err)
	}
	d.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "root") {
		t.Errorf("no warning of instances running as root; logs:\n%s", logs.String())
	}

	logs.Reset()
	cfg.ContainerUser = ""
	d, err = New(cfg, fake.New(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if strings.Contains(logs.String(), "root") {
		t.Errorf("the default container user warned of root:\n%s", logs.String())
	}
}

func TestEnsureRunsTheContainerAsTheContainerUserInAFolderItOwns(t *testing.T) {
	requireRoot(t)
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("own-a"))
	c, ok := rt.Container("own-a")
	if !ok {
		t.Fatal("no container")
	}
	if c.Spec.User != DefaultContainerUser {
		t.Errorf("container user = %q, want %q", c.Spec.User, DefaultContainerUser)
	}
	vol := d.volumes.Path("own-a")
	expectTreeOwnedBy(t, vol, containerUID, containerUID)
	if info, err := os.Stat(vol); err != nil || info.Mode().Perm()&0o007 != 0 {
		t.Errorf("data folder: %v, %v; want no access for others", info, err)
	}
}

func TestEnsureGivesAnExistingFoldersTopLevelToTheContainerUser(t *testing.T) {
	requireRoot(t)
	rt := fake.New()
	d := newTestDaemon(t, rt)
	// What a node from before the container user left: everything root's.
	vol := d.volumes.Path("own-b")
	if err := os.MkdirAll(filepath.Join(vol, "world"), 0o750); err != nil {
		t.Fatal(err)
	}
	ensureOK(t, d, validSpec("own-b"))
	if u, g := ownerOf(t, vol); u != containerUID || g != containerUID {
		t.Errorf("data folder owned by %d:%d, want %d:%d", u, g, containerUID, containerUID)
	}
	// Only the top level: the ensure path stays cheap.
	if u, _ := ownerOf(t, filepath.Join(vol, "world")); u != 0 {
		t.Errorf("world owned by %d, want it left alone", u)
	}
}

func TestFileAPIGivesWhatItCreatesToTheContainerUser(t *testing.T) {
	requireRoot(t)
	d := newTestDaemon(t, fake.New())
	vol := fileInstance(t, d, "own-c", 0)
	base := "/v1/instances/own-c/files"
	expectStatus(t, callRaw(t, d, http.MethodPut, base+"/content?path=server.properties", strings.NewReader("motd=hi\n"), ""), http.StatusOK, "write")
	expectStatus(t, call(t, d, http.MethodPost, base+"/mkdir", nodeapi.PathRequest{Path: "world/region"}), http.StatusCreated, "mkdir")
	body, ct := multipartBody(t, map[string]string{"plugins/a.jar": "AAAA"})
	expectStatus(t, callRaw(t, d, http.MethodPost, base+"/upload?path=.", body, ct), http.StatusCreated, "upload")
	// Put there as root, as an operator's copy would be; the extract's
	// output is what is checked.
	if err := os.WriteFile(filepath.Join(vol, "pack.tar.gz"), tarGzOf(t, map[string]string{"mods/b.jar": "BB"}), 0o644); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, call(t, d, http.MethodPost, base+"/extract", nodeapi.ExtractRequest{Path: "pack.tar.gz", Destination: "unpacked"}), http.StatusOK, "extract")
	if err := os.Remove(filepath.Join(vol, "pack.tar.gz")); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, call(t, d, http.MethodPost, base+"/compress", nodeapi.CompressRequest{Paths: []string{"world"}, Destination: "world.tar.gz"}), http.StatusCreated, "compress")
	expectTreeOwnedBy(t, vol, containerUID, containerUID)
}

func TestInstallGivesTheDataFolderToTheContainerUserFollowingNoLink(t *testing.T) {
	requireRoot(t)
	fsrv := newFileServer(t, map[string]string{"/server.jar": "jar bytes"})
	rt := fake.New()
	d := newDownloadDaemon(t, rt, fsrv, true)
	outside := filepath.Join(t.TempDir(), "sentinel.txt")
	if err := os.WriteFile(outside, []byte("keep my owner"), 0o644); err != nil {
		t.Fatal(err)
	}
	var jarUID int
	rt.SetInstall(func(_ context.Context, job runtime.InstallJob, _ io.Writer) (int, error) {
		jarUID, _ = ownerOf(t, filepath.Join(job.DataDir, "libs", "server.jar"))
		// What a script running as root leaves.
		if err := os.MkdirAll(filepath.Join(job.DataDir, "config"), 0o755); err != nil {
			return 1, err
		}
		if err := os.WriteFile(filepath.Join(job.DataDir, "config", "a.cfg"), nil, 0o644); err != nil {
			return 1, err
		}
		return 0, os.Symlink(outside, filepath.Join(job.DataDir, "escape"))
	})
	spec := installSpec("own-d")
	spec.Downloads = []nodeapi.Download{{URL: fsrv.url("/server.jar"), Path: "libs/server.jar"}}
	ensureOK(t, d, spec)
	waitContainerRunning(t, rt, spec.ID, "the container after the install")
	if jarUID != containerUID {
		t.Errorf("the download was owned by %d, want %d", jarUID, containerUID)
	}
	expectTreeOwnedBy(t, d.volumes.Path(spec.ID), containerUID, containerUID)
	if u, g := ownerOf(t, outside); u != 0 || g != 0 {
		t.Errorf("ESCAPE: the file the install's link points to is now owned by %d:%d", u, g)
	}
}
