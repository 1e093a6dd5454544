package node

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-dev/berth/internal/files"
)

// volumes holds the instances' data folders, <dir>/volumes/<id>, each
// bind-mounted into its container and owned by the container user.
type volumes struct {
	// dir is absolute, because Docker needs an absolute bind source.
	dir string
	// owner is the container user, who owns each data folder.
	owner owner
}

// path is the host folder of an instance's data. id must be validated.
func (v volumes) path(id string) string { return filepath.Join(v.dir, id) }

// create makes the instance's data folder (mode 0750) owned by the
// container user if it is missing. An existing folder owned by anyone else
// (made by an older node, or before the container user changed) is given
// to it, the folder itself only: that is what lets the game in, and it
// keeps the ensure path cheap. What is inside is given over after an
// install (chownAll).
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
	info, err := root.Lstat(id)
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == v.owner.UID && int(st.Gid) == v.owner.GID {
		return nil
	}
	return root.Lchown(id, v.owner.UID, v.owner.GID)
}

// chownAll gives the instance's data folder and everything in it to the
// container user, as an install running as root leaves it root's. It goes
// through the folder's os.Root and never follows a symbolic link, so a
// link the install script planted cannot hand over anything outside.
func (v volumes) chownAll(ctx context.Context, id string) error {
	root, err := v.open(id)
	if err != nil {
		return err
	}
	defer root.Close()
	return files.ChownAll(ctx, root, v.owner.UID, v.owner.GID)
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
