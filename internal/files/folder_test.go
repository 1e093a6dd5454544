package files

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteReadListRenameDelete(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	if _, err := f.Write("server.properties", strings.NewReader("motd=hi\n"), -1, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir("world/region"); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir("world"); KindOf(err) != Exist {
		t.Errorf("mkdir of an existing folder: %v, want Exist", err)
	}
	if err := os.Symlink("server.properties", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	list, err := f.List("")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list.Entries {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "world,link,server.properties" || !list.Entries[0].IsDir || !list.Entries[1].IsSymlink {
		t.Errorf("list = %+v, want world (folder) first, then link (symlink), server.properties", list.Entries)
	}
	file, e, err := f.OpenFile("path", "server.properties", 1024)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(file)
	file.Close()
	if string(b) != "motd=hi\n" || e.Size != 8 {
		t.Errorf("read %q (size %d)", b, e.Size)
	}
	if _, _, err := f.OpenFile("path", "server.properties", 4); KindOf(err) != TooLarge {
		t.Errorf("read over the cap: %v, want TooLarge", err)
	}
	if _, _, err := f.OpenFile("path", "world", 0); KindOf(err) != Invalid {
		t.Errorf("read of a folder: %v, want Invalid", err)
	}
	if _, err := f.List("server.properties"); KindOf(err) != Invalid {
		t.Errorf("list of a file: %v, want Invalid", err)
	}
	if _, err := f.List("missing"); KindOf(err) != NotExist {
		t.Errorf("list of a missing folder: %v, want NotExist", err)
	}
	if err := f.Rename("server.properties", "world/server.properties"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write("x", strings.NewReader("x"), 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename("x", "world/server.properties"); KindOf(err) != Exist {
		t.Errorf("rename over an existing file: %v, want Exist", err)
	}
	if err := f.Rename("world", "world/region/inside"); KindOf(err) != Invalid {
		t.Errorf("rename of a folder into itself: %v, want Invalid", err)
	}
	if err := f.Rename("missing", "y"); KindOf(err) != NotExist {
		t.Errorf("rename of a missing file: %v, want NotExist", err)
	}
	if err := f.Delete([]string{"."}); KindOf(err) != Invalid {
		t.Errorf("delete of the folder itself: %v, want Invalid", err)
	}
	if err := f.Delete([]string{"x", "missing"}); KindOf(err) != NotExist {
		t.Errorf("delete with a missing path: %v, want NotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
		t.Errorf("a refused delete removed x: %v", err)
	}
	if err := f.Delete([]string{"world", "x", "link"}); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.List("."); len(list.Entries) != 0 {
		t.Errorf("after delete the folder holds %+v", list.Entries)
	}
}

func TestWriteKeepsModeAndReplacesALinkInsteadOfWritingThroughIt(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	mustWrite(t, filepath.Join(dir, "start.sh"), "old")
	os.Chmod(filepath.Join(dir, "start.sh"), 0o750)
	if _, err := f.Write("start.sh", strings.NewReader("new"), 3, 0); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "start.sh")); info.Mode().Perm() != 0o750 {
		t.Errorf("mode = %v, want the old 0750", info.Mode())
	}
	mustWrite(t, filepath.Join(dir, "target.txt"), "target")
	os.Symlink("target.txt", filepath.Join(dir, "alias"))
	if _, err := f.Write("alias", strings.NewReader("through?"), -1, 0); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "target.txt")); string(b) != "target" {
		t.Errorf("the write went through the link: target.txt = %q", b)
	}
	if _, err := f.Write("big", strings.NewReader(strings.Repeat("x", 100)), -1, 10); KindOf(err) != TooLarge {
		t.Errorf("write over the cap: %v, want TooLarge", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "big")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a refused write left its file")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestReadRefusesFIFOsWithoutBlocking(t *testing.T) {
	f, dir, _ := newFolder(t, nil)
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, _, err := f.OpenFile("path", "pipe", 0); KindOf(err) != Invalid {
		t.Errorf("read of a FIFO: %v, want Invalid", err)
	}
	if _, err := f.Compress([]string{"."}, "all.tar.gz"); err != nil {
		t.Errorf("compress of a folder with a FIFO: %v, want it left out", err)
	}
}

func TestUploadWritesFilesAndEnforcesCaps(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	if err := f.Mkdir("plugins"); err != nil {
		t.Fatal(err)
	}
	got, err := f.Upload("plugins", multipartOf(map[string]string{"a.jar": "aaaa", "sub/b.jar": "bb"}), UploadLimits{})
	if err != nil || len(got) != 2 {
		t.Fatalf("upload = %+v, %v", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "plugins", "sub", "b.jar")); string(b) != "bb" {
		t.Errorf("sub/b.jar = %q", b)
	}
	if _, err := f.Upload("plugins", multipartOf(map[string]string{"big": strings.Repeat("x", 20)}), UploadLimits{MaxFileBytes: 10}); KindOf(err) != TooLarge {
		t.Errorf("file over the per-file cap: %v, want TooLarge", err)
	}
	if _, err := f.Upload("missing", multipartOf(map[string]string{"a": "a"}), UploadLimits{}); KindOf(err) != NotExist {
		t.Errorf("upload into a missing folder: %v, want NotExist", err)
	}
	if _, err := f.Upload(".", multipartOf(map[string]string{"../../x": "a"}), UploadLimits{}); KindOf(err) != Escape {
		t.Errorf("upload named ../../x: %v, want Escape", err)
	}
}

// footprintOf is what the disk limit counts the file at p for, from its
// metadata as the file system reports it.
func footprintOf(t *testing.T, p string) int64 {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return footprint(info)
}

func TestUsageIsAdjustedByEveryWriteWithoutAWalk(t *testing.T) {
	u := &Usage{}
	u.Set(0)
	u.SetLimit(10 * BlockSize)
	f, dir, _ := newFolder(t, u)
	used := func() int64 { n, _ := u.Used(); return n }
	if _, err := f.Write("a", strings.NewReader(strings.Repeat("a", 300)), 300, 0); err != nil {
		t.Fatal(err)
	}
	if want := footprintOf(t, filepath.Join(dir, "a")); used() != want || want < BlockSize {
		t.Fatalf("after a 300-byte write: %d, want its footprint %d, at least a block", used(), want)
	}
	if _, err := f.Write("a", strings.NewReader(strings.Repeat("a", 100)), -1, 0); err != nil {
		t.Fatal(err)
	}
	if want := footprintOf(t, filepath.Join(dir, "a")); used() != want {
		t.Fatalf("after replacing it with 100 bytes: %d, want %d", used(), want)
	}
	base := used()
	// Announced size past the limit: refused before reading.
	r := &countingReader{r: strings.NewReader(strings.Repeat("b", 20*BlockSize))}
	if _, err := f.Write("b", r, 20*BlockSize, 0); KindOf(err) != OverLimit {
		t.Fatalf("write past the limit: %v, want OverLimit", err)
	} else if !strings.Contains(err.Error(), "disk limit of 40960 bytes") {
		t.Errorf("message %q does not name the limit", err)
	}
	if r.n != 0 {
		t.Errorf("a write refused on its announced size read %d bytes", r.n)
	}
	// Unknown size: refused as it passes the limit, nothing left behind.
	if _, err := f.Write("b", strings.NewReader(strings.Repeat("b", 10*BlockSize)), -1, 0); KindOf(err) != OverLimit {
		t.Fatalf("streamed write past the limit: %v, want OverLimit", err)
	}
	if used() != base {
		t.Fatalf("after refused writes: %d, want %d", used(), base)
	}
	if _, err := f.Upload(".", multipartOf(map[string]string{"u": strings.Repeat("u", 9*BlockSize+1)}), UploadLimits{}); KindOf(err) != OverLimit {
		t.Fatalf("upload past the limit: %v, want OverLimit", err)
	}
	pack := tarGz(t, tarEntry{name: "x", body: strings.Repeat("x", 8*BlockSize)})
	mustWriteBytes(t, filepath.Join(dir, "pack.tar.gz"), pack)
	u.Add(footprintOf(t, filepath.Join(dir, "pack.tar.gz"))) // written behind the API's back
	before := used()
	// 8 blocks of file and one of folder pass the 10 blocks with the 2 used.
	if _, err := f.Extract("pack.tar.gz", "out", ExtractLimits{}); KindOf(err) != OverLimit {
		t.Fatalf("extract past the limit: %v, want OverLimit", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "out")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("an extract refused for the limit wrote its destination")
	}
	if used() != before {
		t.Errorf("a refused extract changed the count: %d -> %d", before, used())
	}
	if err := f.Delete([]string{"a", "pack.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	if used() != 0 {
		t.Errorf("after deleting everything: %d, want 0", used())
	}
	if n, err := Measure(t.Context(), f.root); err != nil || n != used() {
		t.Errorf("a walk measures %d (%v), the count says %d", n, err, used())
	}
}

func TestEmptyFilesFoldersAndLinksEachCountAtLeastABlock(t *testing.T) {
	u := &Usage{}
	u.Set(0)
	f, dir, _ := newFolder(t, u)
	used := func() int64 { n, _ := u.Used(); return n }
	const n = 10_000
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "many/", Typeflag: tar.TypeDir, Mode: 0o755})
	for i := range n {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("many/%05d", i), Typeflag: tar.TypeReg, Mode: 0o644})
	}
	tw.WriteHeader(&tar.Header{Name: "many/link", Typeflag: tar.TypeSymlink, Linkname: "00000"})
	tw.Close()
	gz.Close()
	if buf.Len() > 100<<10 {
		t.Fatalf("the archive is %d bytes; the point is a small one", buf.Len())
	}
	mustWriteBytes(t, filepath.Join(dir, "many.tar.gz"), buf.Bytes())

	// The same archive, under a limit that its bytes (none) would pass.
	u.SetLimit(1 << 20)
	if _, err := f.Extract("many.tar.gz", ".", ExtractLimits{}); KindOf(err) != OverLimit {
		t.Fatalf("extract of %d empty files under a 1 MiB limit: %v, want OverLimit", n, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "many")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the refused extract wrote its files")
	}
	if used() != 0 {
		t.Errorf("a refused extract counted %d", used())
	}

	u.SetLimit(0)
	if _, err := f.Extract("many.tar.gz", ".", ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	if got := used(); got < (n+2)*BlockSize {
		t.Errorf("%d empty files, a folder and a link count %d, want at least %d", n, got, (n+2)*BlockSize)
	}
	walked, err := Measure(t.Context(), f.root)
	if err != nil {
		t.Fatal(err)
	}
	archive := footprintOf(t, filepath.Join(dir, "many.tar.gz"))
	if walked < (n+2)*BlockSize+archive {
		t.Errorf("a walk counts %d, want at least %d", walked, (n+2)*BlockSize+archive)
	}

	// An empty write, an empty upload and a new folder each take a block;
	// deleting gives back what was counted.
	u.Set(0)
	if _, err := f.Write("empty", strings.NewReader(""), 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Upload(".", multipartOf(map[string]string{"up/empty": ""}), UploadLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir("folder"); err != nil {
		t.Fatal(err)
	}
	if got := used(); got < 4*BlockSize {
		t.Errorf("an empty file, an empty upload in a new folder and a folder count %d, want at least %d", got, 4*BlockSize)
	}
	u.SetLimit(used())
	if _, err := f.Write("one-more", strings.NewReader(""), 0, 0); KindOf(err) != OverLimit {
		t.Errorf("an empty file at the limit: %v, want OverLimit", err)
	}
	if err := f.Mkdir("one-more"); KindOf(err) != OverLimit {
		t.Errorf("a folder at the limit: %v, want OverLimit", err)
	}
	if err := f.Delete([]string{"empty", "up", "folder"}); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != 0 {
		t.Errorf("after deleting them: %d, want 0", got)
	}
}

func TestMeasureCountsEveryEntryInBlocksAndFollowsNoLink(t *testing.T) {
	base := t.TempDir()
	mustWrite(t, filepath.Join(base, "outside", "big"), strings.Repeat("o", 50000))
	mustWrite(t, filepath.Join(base, "folder", "a"), "12345")
	mustWrite(t, filepath.Join(base, "folder", "sub", "b"), "123")
	os.Symlink("../outside", filepath.Join(base, "folder", "out"))
	os.Symlink(filepath.Join(base, "outside", "big"), filepath.Join(base, "folder", "big"))
	root, err := os.OpenRoot(filepath.Join(base, "folder"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var want int64
	for _, name := range []string{"a", "sub", "sub/b", "out", "big"} {
		want += footprintOf(t, filepath.Join(base, "folder", name))
	}
	if n, err := Measure(t.Context(), root); err != nil || n != want || n < 5*BlockSize {
		t.Errorf("Measure = %d, %v; want %d, at least 5 blocks", n, err, want)
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// swapOnEOF reads r and, when it is done, swaps the folder dir for a
// link to target, as a game racing a write through the file API would:
// the write's folder was checked and its temporary file created before.
type swapOnEOF struct {
	r           io.Reader
	dir, target string
	t           *testing.T
}

func (s *swapOnEOF) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		if rerr := os.Rename(s.dir, s.dir+"-moved"); rerr != nil {
			s.t.Error(rerr)
		}
		if serr := os.Symlink(s.target, s.dir); serr != nil {
			s.t.Error(serr)
		}
	}
	return n, err
}

func TestWriteRacedByAFolderSwapIsAnEscapeAndLeavesNoTemporaryFile(t *testing.T) {
	u := &Usage{}
	u.Set(0)
	f, dir, _ := newFolder(t, u)
	outside := filepath.Join(filepath.Dir(dir), "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "world"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, outside, "", -1)
	r := &swapOnEOF{r: strings.NewReader("level data"), dir: filepath.Join(dir, "world"), target: outside, t: t}
	_, err := f.Write("world/level.dat", r, -1, 0)
	if KindOf(err) != Escape {
		t.Fatalf("write whose folder was swapped for a link out: %v (kind %d), want Escape", err, KindOf(err))
	}
	if diffs := diffStates(before, snapshot(t, outside, "", -1)); len(diffs) > 0 {
		t.Errorf("ESCAPE: the folder outside changed: %s", strings.Join(diffs, "; "))
	}
	_ = filepath.WalkDir(filepath.Dir(dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			t.Errorf("a temporary file was left behind: %s", p)
		}
		return nil
	})
	if n, _ := u.Used(); n != 0 {
		t.Errorf("the failed write still counts %d bytes", n)
	}
}
