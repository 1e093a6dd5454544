package files

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzResolve checks path resolution on any input: Clean either refuses
// it or returns a local, clean name within the limits, idempotently; and
// reading, listing or creating a folder at it inside a sandbox whose links
// lead out never changes anything outside the folder.
func FuzzResolve(f *testing.F) {
	for _, seed := range []string{"", ".", "a/b", "../x", "/etc/passwd", "a\x00b", "link-out/x",
		"link-etc/passwd", "inner/link-up/new", "%2e%2e/x", "inner/../..", strings.Repeat("a", 256)} {
		f.Add(seed)
	}
	base := f.TempDir()
	dir := filepath.Join(base, "folder")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "inner"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "sentinel.txt"), []byte("sentinel"), 0o644); err != nil {
		f.Fatal(err)
	}
	for name, target := range map[string]string{"link-out": "../outside", "link-etc": "/etc",
		"inner/link-up": "../../outside", "link-abs": outside} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			f.Fatal(err)
		}
	}
	folder, err := Open(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer folder.Close()
	outsideBefore := listNames(f, outside)

	f.Fuzz(func(t *testing.T, p string) {
		name, err := Clean("path", p)
		if err != nil {
			if k := KindOf(err); k != Escape && k != Invalid {
				t.Fatalf("Clean(%q) failed with kind %d: %v", p, k, err)
			}
		} else {
			switch {
			case name != "." && !filepath.IsLocal(name):
				t.Fatalf("Clean(%q) = %q, not local", p, name)
			case path.Clean(name) != name:
				t.Fatalf("Clean(%q) = %q, not clean", p, name)
			case len(name) > MaxPathBytes, strings.IndexByte(name, 0) >= 0, !utf8.ValidString(name):
				t.Fatalf("Clean(%q) = %q breaks a limit", p, name)
			}
			if again, err := Clean("path", name); err != nil || again != name {
				t.Fatalf("Clean is not idempotent on %q: %q, %v", name, again, err)
			}
		}
		if file, _, err := folder.OpenFile("path", p, 1<<20); err == nil {
			file.Close()
		}
		_, _ = folder.List(p)
		if err := folder.Mkdir(p); err == nil {
			if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
				t.Fatalf("Mkdir(%q) succeeded but %q is not in the folder: %v", p, name, err)
			}
		}
		if got := listNames(t, outside); got != outsideBefore {
			t.Fatalf("ESCAPE through %q: outside the folder went from %q to %q", p, outsideBefore, got)
		}
	})
}

func listNames(t testing.TB, dir string) string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		names = append(names, p)
		return nil
	})
	return strings.Join(names, "\n")
}
