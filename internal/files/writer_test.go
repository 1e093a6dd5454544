package files

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriterPutsTheFileInPlaceOnlyOnCommit(t *testing.T) {
	type step func(w *Writer) error
	at := func(s string, off int64) step {
		return func(w *Writer) error { _, err := w.WriteAt([]byte(s), off); return err }
	}
	app := func(s string) step {
		return func(w *Writer) error { _, err := w.Append([]byte(s)); return err }
	}
	for _, tc := range []struct {
		name   string
		old    string // "" for no file
		keep   bool
		steps  []step
		commit bool
		want   string // the file's content after; "-" for no file
	}{
		{"new file", "", false, []step{at("hello", 0), at(" world", 5)}, true, "hello world"},
		{"writes out of order", "", false, []step{at("world", 6), at("hello ", 0)}, true, "hello world"},
		{"replace", "old content", false, []step{at("new", 0)}, true, "new"},
		{"keep and overwrite the start", "old content", true, []step{at("OLD", 0)}, true, "OLD content"},
		{"keep and append", "one\n", true, []step{app("two\n"), app("three\n")}, true, "one\ntwo\nthree\n"},
		{"abort keeps the old file", "old content", false, []step{at("new", 0)}, false, "old content"},
		{"abort of a new file leaves none", "", false, []step{at("new", 0)}, false, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			usage := &Usage{}
			f, dir, outsideUnchanged := newFolder(t, usage)
			defer outsideUnchanged()
			if tc.old != "" {
				mustWrite(t, filepath.Join(dir, "f.txt"), tc.old)
			}
			w, err := f.Create("f.txt", tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				if err := s(w); err != nil {
					t.Fatal(err)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "f.txt")); tc.old != "" && string(b) != tc.old {
				t.Errorf("before the commit the file holds %q", b)
			}
			if tc.commit {
				e, err := w.Commit()
				if err != nil || e.Size != int64(len(tc.want)) {
					t.Fatalf("commit = %+v, %v", e, err)
				}
			} else {
				w.Abort()
			}
			b, err := os.ReadFile(filepath.Join(dir, "f.txt"))
			switch {
			case tc.want == "-" && err == nil:
				t.Errorf("the file exists with %q", b)
			case tc.want != "-" && string(b) != tc.want:
				t.Errorf("the file holds %q, want %q", b, tc.want)
			}
			assertNoTempFiles(t, dir)
			if used, _ := usage.Used(); tc.want == "-" && used != 0 {
				t.Errorf("usage %d after an abort, want 0", used)
			}
		})
	}
}

func TestWriterPastTheDiskLimitFailsAndCommitsNothing(t *testing.T) {
	usage := &Usage{}
	usage.Set(0)
	usage.SetLimit(4 * BlockSize)
	f, dir, outsideUnchanged := newFolder(t, usage)
	defer outsideUnchanged()
	w, err := f.Create("big.bin", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, BlockSize), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, 8*BlockSize), BlockSize); KindOf(err) != OverLimit {
		t.Fatalf("write past the limit: %v, want OverLimit", err)
	}
	if _, err := w.WriteAt([]byte("x"), 0); KindOf(err) != OverLimit {
		t.Errorf("a write after the failure: %v, want the failure again", err)
	}
	if _, err := w.Commit(); KindOf(err) != OverLimit {
		t.Errorf("commit after the failure: %v, want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "big.bin")); err == nil {
		t.Error("the file was put in place")
	}
	assertNoTempFiles(t, dir)
	if used, _ := usage.Used(); used != 0 {
		t.Errorf("usage %d after the failed write, want 0", used)
	}
}

func TestSetAttrsChangesModeAndTimesNeverThroughALink(t *testing.T) {
	f, dir, outsideUnchanged := newFolder(t, nil)
	defer outsideUnchanged()
	mustWrite(t, filepath.Join(dir, "f.txt"), "x")
	if err := os.Symlink("../sentinel.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	mode := fs.FileMode(0o4750)
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := f.SetAttrs("f.txt", &mode, &[2]time.Time{mtime, mtime}); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(filepath.Join(dir, "f.txt"))
	if info.Mode() != 0o750 || !info.ModTime().Equal(mtime) {
		t.Errorf("after SetAttrs: %v %v, want -rwxr-x--- (no setuid) at %v", info.Mode(), info.ModTime(), mtime)
	}
	if err := f.SetAttrs("link", &mode, nil); KindOf(err) != Invalid {
		t.Errorf("SetAttrs on a link: %v, want Invalid", err)
	}
	if err := f.SetAttrs("../sentinel.txt", &mode, nil); KindOf(err) != Escape {
		t.Errorf("SetAttrs outside: %v, want Escape", err)
	}
}

// assertNoTempFiles fails when dir holds a write's temporary file.
func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}
