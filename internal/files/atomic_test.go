package files

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// dirNames lists dir's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteAtomicReplacesTheFileWithTheNewContentAndMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	err = WriteAtomic(root, "spec.json", 0o600, func(f *os.File) error {
		_, err := f.WriteString("new")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil || string(b) != "new" {
		t.Errorf("content = %q, %v; want new", b, err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "spec.json")); info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", info.Mode().Perm())
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("folder holds %q, want the file alone", names)
	}
}

func TestWriteAtomicFailureLeavesTheOldContentAndNoTempFile(t *testing.T) {
	errFill := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		// target is what the write replaces; a folder makes the rename fail.
		target string
		fill   func(*os.File) error
		want   error
	}{
		{"fill fails halfway", "spec.json", func(f *os.File) error {
			_, _ = f.WriteString("half of the new")
			return errFill
		}, errFill},
		{"rename fails", "folder", func(f *os.File) error {
			_, err := f.WriteString("new")
			return err
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "spec.json"), []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "folder", "inside"), 0o700); err != nil {
				t.Fatal(err)
			}
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			err = WriteAtomic(root, tc.target, 0o600, tc.fill)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("WriteAtomic = %v, want a failure (%v)", err, tc.want)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "spec.json")); string(b) != "old" {
				t.Errorf("spec.json = %q after a failed write, want old", b)
			}
			if info, err := os.Stat(filepath.Join(dir, "folder")); err != nil || !info.IsDir() {
				t.Errorf("folder after a failed write: %v", err)
			}
			for _, n := range dirNames(t, dir) {
				if IsTempName(n) {
					t.Errorf("temporary file %s left behind", n)
				}
			}
			if names := dirNames(t, dir); len(names) != 2 {
				t.Errorf("folder holds %q, want spec.json and folder", names)
			}
		})
	}
}
