package node

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// volumes holds the instances' data folders, <dir>/volumes/<id>, each
// bind-mounted into its container.
type volumes struct {
	// dir is absolute, because Docker needs an absolute bind source.
	dir string
}

// path is the host folder of an instance's data. id must be validated.
func (v volumes) path(id string) string { return filepath.Join(v.dir, id) }

// create makes the instance's data folder (mode 0750) if it is missing.
func (v volumes) create(id string) error {
	if err := os.MkdirAll(v.dir, 0o750); err != nil {
		return err
	}
	root, err := os.OpenRoot(v.dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Mkdir(id, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// remove deletes the instance's data folder and everything in it. It runs
// through os.Root so that neither the ID nor a symlink a game server
// planted inside the folder can reach anything outside <dir>/volumes.
func (v volumes) remove(id string) error {
	root, err := os.OpenRoot(v.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	return root.RemoveAll(id)
}
