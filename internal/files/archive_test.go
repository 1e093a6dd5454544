package files

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarEntry is one entry of a test archive; typ 0 is a regular file.
type tarEntry struct {
	name string
	body string
	typ  byte
	link string
	mode int64
}

func tarBytes(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(tarBytes(t, entries...))
	gz.Close()
	return buf.Bytes()
}

func gunzip(b []byte) []byte {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, _ := io.ReadAll(gz)
	return out
}

// zipEntry is one entry of a test zip; a symlink is a mode with
// fs.ModeSymlink and its target as body.
type zipEntry struct {
	name string
	body string
	mode fs.FileMode
}

func zipBytes(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newFolder returns an empty folder inside a parent that holds a sentinel,
// and a function that fails the test when anything beside the folder
// changed.
func newFolder(t *testing.T, usage *Usage) (*Folder, string, func()) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "folder")
	mustWrite(t, filepath.Join(base, "sentinel.txt"), "sentinel: must never change")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir, usage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	before := snapshot(t, base, dir, -1)
	return f, dir, func() {
		t.Helper()
		if diffs := diffStates(before, snapshot(t, base, dir, -1)); len(diffs) > 0 {
			t.Errorf("ESCAPE: outside the folder changed: %s", strings.Join(diffs, "; "))
		}
	}
}

func TestExtractRefusesHostileArchivesBeforeWritingAnything(t *testing.T) {
	cases := []struct {
		name    string
		archive string
		content func(t *testing.T) []byte
		kind    Kind
	}{
		{"tar dot-dot", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "ok.txt", body: "fine"}, tarEntry{name: "../escaped.txt", body: "x"})
		}, Escape},
		{"tar deep dot-dot", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "ok.txt", body: "fine"}, tarEntry{name: "a/b/../../../escaped.txt", body: "x"})
		}, Escape},
		{"tar absolute", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "ok.txt", body: "fine"}, tarEntry{name: "/tmp/escaped.txt", body: "x"})
		}, Escape},
		{"plain tar dot-dot", "a.tar", func(t *testing.T) []byte {
			return tarBytes(t, tarEntry{name: "ok.txt", body: "fine"}, tarEntry{name: "../escaped.txt", body: "x"})
		}, Escape},
		{"tar symlink out then write through", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "evil", typ: tar.TypeSymlink, link: ".."},
				tarEntry{name: "evil/escaped.txt", body: "x"})
		}, Escape},
		{"tar absolute symlink then write through", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "etc", typ: tar.TypeSymlink, link: "/etc"},
				tarEntry{name: "etc/berth-probe", body: "x"})
		}, Escape},
		{"tar symlink escaping from a subfolder", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "sub/up", typ: tar.TypeSymlink, link: "../../x"})
		}, Escape},
		{"tar link through an earlier link", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "c1", typ: tar.TypeSymlink, link: "."},
				tarEntry{name: "c2", typ: tar.TypeSymlink, link: "c1/.."})
		}, Escape},
		{"tar link through a later link", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "c2", typ: tar.TypeSymlink, link: "c1/.."},
				tarEntry{name: "c1", typ: tar.TypeSymlink, link: "."})
		}, Escape},
		{"tar link through a link in a subfolder", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "d/", typ: tar.TypeDir},
				tarEntry{name: "d/b", typ: tar.TypeSymlink, link: ".."},
				tarEntry{name: "a", typ: tar.TypeSymlink, link: "d/b/.."})
		}, Escape},
		{"tar link through a chain of three", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "c1", typ: tar.TypeSymlink, link: "."},
				tarEntry{name: "c2", typ: tar.TypeSymlink, link: "c1/c1"},
				tarEntry{name: "c3", typ: tar.TypeSymlink, link: "c2/../x"})
		}, Escape},
		{"tar link to a link out", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "c1", typ: tar.TypeSymlink, link: "."},
				tarEntry{name: "c2", typ: tar.TypeSymlink, link: "c1/../sentinel.txt"})
		}, Escape},
		{"tar links in a loop", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "l1", typ: tar.TypeSymlink, link: "l2/x"},
				tarEntry{name: "l2", typ: tar.TypeSymlink, link: "l1/x"})
		}, Invalid},
		{"tar link inside", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "real/", typ: tar.TypeDir},
				tarEntry{name: "alias", typ: tar.TypeSymlink, link: "real"},
				tarEntry{name: "alias/file.txt", body: "x"})
		}, Escape},
		{"tar file before the link it goes through", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "c1/file.txt", body: "x"},
				tarEntry{name: "c1", typ: tar.TypeSymlink, link: "."})
		}, Escape},
		{"tar link made through a link", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "c1", typ: tar.TypeSymlink, link: "."},
				tarEntry{name: "c1/c3", typ: tar.TypeSymlink, link: "x"})
		}, Escape},
		{"tar hard link out", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "passwd", typ: tar.TypeLink, link: "../../../../etc/passwd"})
		}, Escape},
		{"tar hard link to a file not in the archive", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "passwd", typ: tar.TypeLink, link: "other"})
		}, Invalid},
		{"tar device", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "ok.txt", body: "fine"}, tarEntry{name: "sda", typ: tar.TypeBlock})
		}, Invalid},
		{"tar fifo", "a.tar.gz", func(t *testing.T) []byte {
			return tarGz(t, tarEntry{name: "ok.txt", body: "fine"}, tarEntry{name: "pipe", typ: tar.TypeFifo})
		}, Invalid},
		{"tar NUL in name", "a.tar.gz", func(t *testing.T) []byte {
			// archive/tar refuses to write a NUL; patch one into the header.
			b := tarBytes(t, tarEntry{name: "okAtxt", body: "fine"})
			b[2] = 0
			b = bytes.Replace(b, []byte("okAtxt"), []byte("ok\x00txt"), 1)
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write(b)
			gz.Close()
			return buf.Bytes()
		}, 0},
		{"zip slip", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "ok.txt", body: "fine"}, zipEntry{name: "../../escaped.txt", body: "x"})
		}, Escape},
		{"zip slip with backslashes", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "ok.txt", body: "fine"}, zipEntry{name: `..\..\escaped.txt`, body: "x"})
		}, Escape},
		{"zip absolute", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "ok.txt", body: "fine"}, zipEntry{name: "/tmp/escaped.txt", body: "x"})
		}, Escape},
		{"zip symlink out then write through", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "evil", body: "../", mode: fs.ModeSymlink | 0o777},
				zipEntry{name: "evil/escaped.txt", body: "x"})
		}, Escape},
		{"zip link through an earlier link", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "c1", body: ".", mode: fs.ModeSymlink | 0o777},
				zipEntry{name: "c2", body: "c1/..", mode: fs.ModeSymlink | 0o777})
		}, Escape},
		{"zip link through a link in a subfolder", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "d/b", body: "..", mode: fs.ModeSymlink | 0o777},
				zipEntry{name: "a", body: "d/b/..", mode: fs.ModeSymlink | 0o777})
		}, Escape},
		{"zip link then a file through it", "a.zip", func(t *testing.T) []byte {
			return zipBytes(t, zipEntry{name: "c1", body: ".", mode: fs.ModeSymlink | 0o777},
				zipEntry{name: "c1/file.txt", body: "x"})
		}, Escape},
		{"not an archive", "a.tar.gz", func(t *testing.T) []byte { return []byte("plain text") }, Invalid},
		{"not a zip", "a.zip", func(t *testing.T) []byte { return []byte("plain text") }, Invalid},
		{"unknown kind", "a.rar", func(t *testing.T) []byte { return []byte("x") }, Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, dir, checkOutside := newFolder(t, nil)
			defer checkOutside()
			mustWriteBytes(t, filepath.Join(dir, c.archive), c.content(t))
			_, err := f.Extract(c.archive, "dest", ExtractLimits{})
			if err == nil {
				t.Fatal("extracted, want a refusal")
			}
			if c.kind != 0 && KindOf(err) != c.kind {
				t.Errorf("refused with %v (kind %d), want kind %d", err, KindOf(err), c.kind)
			}
			if KindOf(err) == 0 {
				t.Errorf("refused with an unclassified error: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "dest")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the destination was created for a refused archive (%v)", err)
			}
		})
	}
}

func TestExtractUnpacksTarAndZipWithLinksInside(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	mustWriteBytes(t, filepath.Join(dir, "pack.tar.gz"), tarGz(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./bin/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./bin/start.sh", body: "#!/bin/sh\n", mode: 0o4755},
		tarEntry{name: "lib/libx.so.1", body: "elf"},
		tarEntry{name: "lib/libx.so", typ: tar.TypeSymlink, link: "libx.so.1"},
		tarEntry{name: "lib/copy.so", typ: tar.TypeLink, link: "lib/libx.so.1"},
	))
	res, err := f.Extract("pack.tar.gz", "server", ExtractLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 3 || res.Bytes != int64(len("#!/bin/sh\n")+6) {
		t.Errorf("result = %+v, want 3 files of %d bytes", res, len("#!/bin/sh\n")+6)
	}
	info, err := os.Stat(filepath.Join(dir, "server/bin/start.sh"))
	if err != nil || info.Mode().Perm() != 0o755 || info.Mode()&fs.ModeSetuid != 0 {
		t.Errorf("start.sh: %v %v, want mode 0755 without setuid", info, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "server/lib/libx.so")); err != nil || target != "libx.so.1" {
		t.Errorf("link = %q, %v", target, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "server/lib/copy.so")); err != nil || string(b) != "elf" {
		t.Errorf("hard link copy = %q, %v", b, err)
	}

	mustWriteBytes(t, filepath.Join(dir, "mods.zip"), zipBytes(t,
		zipEntry{name: "mods/", mode: fs.ModeDir | 0o755},
		zipEntry{name: "mods/a.jar", body: "jar a"},
		zipEntry{name: `config\b.toml`, body: "b = 1"},
		zipEntry{name: "latest.jar", body: "mods/a.jar", mode: fs.ModeSymlink | 0o777},
	))
	if _, err := f.Extract("mods.zip", ".", ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"mods/a.jar": "jar a", "config/b.toml": "b = 1", "latest.jar": "jar a"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}

func TestExtractFollowsTheLinksAlreadyInTheFolder(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	// The game, or an earlier archive, made a link that stays inside; a
	// new archive's link through it must not lead out of the destination.
	if err := os.MkdirAll(filepath.Join(dir, "dest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(dir, "dest", "c1")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tar  []byte
	}{
		{"link through it", tarGz(t, tarEntry{name: "c2", typ: tar.TypeSymlink, link: "c1/.."})},
		{"link made in it", tarGz(t, tarEntry{name: "c1/c3", typ: tar.TypeSymlink, link: ".."})},
	} {
		mustWriteBytes(t, filepath.Join(dir, "a.tar.gz"), c.tar)
		if _, err := f.Extract("a.tar.gz", "dest", ExtractLimits{}); KindOf(err) != Escape {
			t.Errorf("%s: %v, want Escape", c.name, err)
		}
	}
	for _, name := range []string{"dest/c2", "dest/c3"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was made by a refused archive (%v)", name, err)
		}
	}
	// Links that stay inside, through others, are made.
	mustWriteBytes(t, filepath.Join(dir, "a.tar.gz"), tarGz(t,
		tarEntry{name: "lib/libx.so.1", body: "elf"},
		tarEntry{name: "lib/libx.so", typ: tar.TypeSymlink, link: "libx.so.1"},
		tarEntry{name: "current", typ: tar.TypeSymlink, link: "c1/lib/libx.so"},
		tarEntry{name: "lib/self", typ: tar.TypeSymlink, link: "../c1/lib"},
	))
	if _, err := f.Extract("a.tar.gz", "dest", ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dest/current", "dest/lib/self/libx.so"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "elf" {
			t.Errorf("%s = %q, %v; want the library", name, b, err)
		}
	}
}

func TestExtractReplacesAPlantedLinkInsteadOfWritingThroughIt(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	// The game planted a link where the archive puts a file.
	if err := os.Symlink("../sentinel.txt", filepath.Join(dir, "server.properties")); err != nil {
		t.Fatal(err)
	}
	mustWriteBytes(t, filepath.Join(dir, "a.tar.gz"), tarGz(t, tarEntry{name: "server.properties", body: "motd=hi"}))
	if _, err := f.Extract("a.tar.gz", ".", ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(filepath.Join(dir, "server.properties"))
	if err != nil || !info.Mode().IsRegular() {
		t.Fatalf("server.properties = %v, %v; want a regular file in place of the link", info, err)
	}
}

func TestExtractRefusesArchivesOverTheCaps(t *testing.T) {
	f, dir, _ := newFolder(t, nil)
	mustWriteBytes(t, filepath.Join(dir, "big.tar.gz"), tarGz(t,
		tarEntry{name: "a", body: strings.Repeat("a", 600)}, tarEntry{name: "b", body: strings.Repeat("b", 600)}))
	if _, err := f.Extract("big.tar.gz", ".", ExtractLimits{MaxBytes: 1000}); KindOf(err) != TooLarge {
		t.Errorf("over MaxBytes: %v, want TooLarge", err)
	}
	if _, err := f.Extract("big.tar.gz", ".", ExtractLimits{MaxEntries: 1}); KindOf(err) != TooLarge {
		t.Errorf("over MaxEntries: %v, want TooLarge", err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was written by a refused extraction", name)
		}
	}
}

func TestExtractBombIsRefusedWithoutInflatingIt(t *testing.T) {
	f, dir, _ := newFolder(t, nil)
	// 64 MiB of zeros compress to about 64 KiB.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: 64 << 20, Mode: 0o644})
	io.CopyN(tw, zeros{}, 64<<20)
	tw.Close()
	gz.Close()
	mustWriteBytes(t, filepath.Join(dir, "bomb.tar.gz"), buf.Bytes())
	if _, err := f.Extract("bomb.tar.gz", ".", ExtractLimits{MaxBytes: 1 << 20}); KindOf(err) != TooLarge {
		t.Fatalf("bomb: %v, want TooLarge", err)
	}
}

func TestCompressThenExtractRoundTrips(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	mustWrite(t, filepath.Join(dir, "world", "level.dat"), "level")
	mustWrite(t, filepath.Join(dir, "world", "region", "r.0.0.mca"), strings.Repeat("r", 5000))
	if err := os.Symlink("../../sentinel.txt", filepath.Join(dir, "world", "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("level.dat", filepath.Join(dir, "world", "alias")); err != nil {
		t.Fatal(err)
	}
	e, err := f.Compress([]string{"world"}, "backups/world.tar.gz")
	if KindOf(err) != NotExist {
		t.Fatalf("compress into a missing folder: %v, want NotExist", err)
	}
	if err := f.Mkdir("backups"); err != nil {
		t.Fatal(err)
	}
	if e, err = f.Compress([]string{"world"}, "backups/world.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if e.Size == 0 {
		t.Error("compress answered a size of 0")
	}
	if _, err := f.Compress([]string{"world"}, "backups/world.tar.gz"); KindOf(err) != Exist {
		t.Errorf("compress over an existing file: %v, want Exist", err)
	}
	if _, err := f.Compress([]string{"world"}, "world.zip"); KindOf(err) != Invalid {
		t.Errorf("compress to .zip: %v, want Invalid", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "backups", "world.tar.gz"))
	if bytes.Contains(gunzip(raw), []byte("sentinel: must never change")) {
		t.Fatal("ESCAPE: the archive holds the content of the link's target outside")
	}
	// The link out was archived as a link: extracting refuses it.
	if _, err := f.Extract("backups/world.tar.gz", "restore", ExtractLimits{}); KindOf(err) != Escape {
		t.Fatalf("extract of an archive with a link out: %v, want Escape", err)
	}
	if err := os.Remove(filepath.Join(dir, "world", "out")); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete([]string{"backups/world.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Compress([]string{"world"}, "backups/world.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Extract("backups/world.tar.gz", "restore", ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"restore/world/level.dat":        "level",
		"restore/world/region/r.0.0.mca": strings.Repeat("r", 5000),
		"restore/world/alias":            "level",
	} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %.20q, %v", name, b, err)
		}
	}
}
