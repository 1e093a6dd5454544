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
	tmp, file, err := openTemp(root, name, perm)
	if err != nil {
		return err
	}
	return finishTemp(root, file, tmp, name, fill(file))
}

// IsTempName reports whether name (a base name) is the temporary file of
// an atomic write, which a crash may have left behind.
func IsTempName(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// openTemp creates an empty temporary file, mode perm, in the folder of
// name. O_EXCL never follows a symbolic link, so it cannot be made through
// one.
func openTemp(root *os.Root, name string, perm fs.FileMode) (string, *os.File, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(name), tempPrefix+hex.EncodeToString(rnd[:]))
	file, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", nil, err
	}
	return tmp, file, nil
}

// finishTemp ends the write of the temporary file tmp. After a successful
// fill (err nil) it syncs and closes the file, renames it to name and
// syncs the folder; after a failed one, or when a step fails before the
// rename, it removes the file. It returns the first error met.
func finishTemp(root *os.Root, file *os.File, tmp, name string, err error) error {
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return err
	}
	// The rename is durable only once the folder itself is synced.
	dir, err := root.Open(path.Dir(name))
	if err != nil {
		return fmt.Errorf("sync the folder of %s: %w", name, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync the folder of %s: %w", name, err)
	}
	return nil
}
