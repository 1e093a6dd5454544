package files

import (
	"archive/tar"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// testOwner is the user files are given to in these tests: the node's
// default container user.
const testOwner = 988

// requireRoot skips a test that must change files' owners.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
}

// ownerOf is the uid and gid of p, not following a link at its end.
func ownerOf(t *testing.T, p string) (uid, gid int) {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// expectOwnedBy fails unless every entry under dir (dir itself left out)
// belongs to uid:gid.
func expectOwnedBy(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		n++
		if u, g := ownerOf(t, p); u != uid || g != gid {
			rel, _ := filepath.Rel(dir, p)
			t.Errorf("%s is owned by %d:%d, want %d:%d", rel, u, g, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing was created")
	}
}

func TestWriteUploadMkdirExtractCompressGiveWhatTheyCreateToTheOwner(t *testing.T) {
	requireRoot(t)
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	f.SetOwner(testOwner, testOwner)

	if _, err := f.Write("server.properties", strings.NewReader("motd=hi\n"), -1, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir("world/region"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Upload(".", multipartOf(map[string]string{"plugins/sub/a.jar": "aaaa"}), UploadLimits{}); err != nil {
		t.Fatal(err)
	}
	// Written as root, as an install or the operator would have.
	mustWriteBytes(t, filepath.Join(dir, "pack.tar"), tarBytes(t,
		tarEntry{name: "mods/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "mods/a.jar", body: "jar"},
		tarEntry{name: "mods/latest.jar", typ: tar.TypeSymlink, link: "a.jar"},
	))
	if _, err := f.Extract("pack.tar", "unpacked", ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "pack.tar")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Compress([]string{"world"}, "world.tar.gz"); err != nil {
		t.Fatal(err)
	}
	expectOwnedBy(t, dir, testOwner, testOwner)
}

func TestFolderWithoutAnOwnerKeepsTheCreators(t *testing.T) {
	requireRoot(t)
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	if _, err := f.Write("a.txt", strings.NewReader("a"), -1, 0); err != nil {
		t.Fatal(err)
	}
	expectOwnedBy(t, dir, os.Geteuid(), os.Getegid())
}

func TestChownAllGivesEverythingOverAndFollowsNoLink(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	dir := filepath.Join(base, "folder")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "sub", "deep"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(dir, "sub", "deep", "a.txt"), "a")
	mustWrite(t, filepath.Join(outside, "sentinel.txt"), "must keep its owner")
	for name, target := range map[string]string{
		"abs":         filepath.Join(outside, "sentinel.txt"),
		"up":          "../outside",
		"sub/outside": outside,
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	if err := ChownAll(t.Context(), root, testOwner, testOwner); err != nil {
		t.Fatal(err)
	}
	if u, g := ownerOf(t, dir); u != testOwner || g != testOwner {
		t.Errorf("the folder itself is owned by %d:%d, want %d:%d", u, g, testOwner, testOwner)
	}
	expectOwnedBy(t, dir, testOwner, testOwner)
	for _, p := range []string{outside, filepath.Join(outside, "sentinel.txt")} {
		if u, g := ownerOf(t, p); u != os.Geteuid() || g != os.Getegid() {
			t.Errorf("ESCAPE: %s, outside the folder, is now owned by %d:%d", p, u, g)
		}
	}
}
