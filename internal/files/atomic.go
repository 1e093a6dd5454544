package files

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// WriteAtomic replaces name inside root with what fill writes to a new
// file: the file is created beside name under a temporary name (mode
// perm), filled, synced, renamed over name, and the folder is synced so
// that the rename itself survives a crash. On any failure the temporary
// file is removed and name keeps its old content. Going through root keeps
// every step inside the folder whatever name holds.
//
// It is the one atomic write of the project: the file API, the node's
// instance records and its node.json all go through it.
func WriteAtomic(root *os.Root, name string, perm fs.FileMode, fill func(*os.File) error) error {
	t, err := openTemp(root, name, perm)
	if err != nil {
		return err
	}
	return t.finish(root, name, fill(t.File))
}

// IsTempName reports whether name (a base name) is the temporary file of
// an atomic write, which a crash may have left behind.
func IsTempName(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// tempFile is the temporary file of an atomic write, open for writing.
type tempFile struct {
	*os.File
	// dir is the folder the file was created in, held open so that a
	// failed write removes the file from there even when a game has since
	// moved that folder, or put a link to elsewhere in its place.
	dir *os.Root
	// base is the file's name in dir; name its path in the root, by which
	// it is renamed into place.
	base, name string
}

// openTemp creates an empty temporary file, mode perm, in the folder of
// name. O_EXCL never follows a symbolic link, so it cannot be made through
// one.
func openTemp(root *os.Root, name string, perm fs.FileMode) (*tempFile, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	t := &tempFile{base: tempPrefix + hex.EncodeToString(rnd[:])}
	t.name = path.Join(path.Dir(name), t.base)
	dir, err := root.OpenRoot(path.Dir(name))
	if err != nil {
		return nil, err
	}
	file, err := dir.OpenFile(t.base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		dir.Close()
		return nil, err
	}
	t.File, t.dir = file, dir
	return t, nil
}

// discard closes and removes the temporary file.
func (t *tempFile) discard() {
	t.File.Close()
	_ = t.dir.Remove(t.base)
	t.dir.Close()
}

// finish ends the write. After a successful fill (err nil) it syncs and
// closes the file, renames it to name and syncs the folder; after a failed
// one, or when a step fails before the rename, it removes the file. The
// rename goes by path, so the file lands where the caller named or
// nowhere: a folder swapped for a link out since the file was created
// makes it fail as an escape. It returns the first error met.
func (t *tempFile) finish(root *os.Root, name string, err error) error {
	defer t.dir.Close()
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(t.name, name)
	}
	if err != nil {
		_ = t.dir.Remove(t.base)
		return err
	}
	// The rename is durable only once the folder itself is synced.
	dir, err := t.dir.Open(".")
	if err != nil {
		return fmt.Errorf("sync the folder of %s: %w", name, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync the folder of %s: %w", name, err)
	}
	return nil
}
