// Package volumes holds the instances' data folders on the node: one
// folder per instance, bind-mounted into its container and owned by the
// numeric container user every instance runs as. Everything that reaches
// an instance's files (the file API, installs, SFTP, backups) opens them
// here, through os.Root.
package volumes

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-dev/berth/internal/files"
)

// Volumes holds the instances' data folders, <dir>/<id>, each
// bind-mounted into its container and owned by the container user.
type Volumes struct {
	// dir is absolute, because Docker needs an absolute bind source.
	dir string
	// owner is the container user, who owns each data folder.
	owner Owner
}

// New returns the data folders under dir (absolute) owned by owner.
func New(dir string, owner Owner) Volumes { return Volumes{dir: dir, owner: owner} }

// Dir is the folder that holds every data folder.
func (v Volumes) Dir() string { return v.dir }

// Owner is the container user, who owns each data folder.
func (v Volumes) Owner() Owner { return v.owner }

// Path is the host folder of an instance's data. id must be validated.
func (v Volumes) Path(id string) string { return filepath.Join(v.dir, id) }

// Create makes the instance's data folder (mode 0750) owned by the
// container user if it is missing. An existing folder owned by anyone else
// (made by an older node, or before the container user changed) is given
// to it, the folder itself only: that is what lets the game in, and it
// keeps the ensure path cheap. What is inside is given over after an
// install (ChownAll).
func (v Volumes) Create(id string) error {
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

// ChownAll gives the instance's data folder and everything in it to the
// container user, as an install running as root leaves it root's. It goes
// through the folder's os.Root and never follows a symbolic link, so a
// link the install script planted cannot hand over anything outside.
func (v Volumes) ChownAll(ctx context.Context, id string) error {
	root, err := v.Open(id)
	if err != nil {
		return err
	}
	defer root.Close()
	return files.ChownAll(ctx, root, v.owner.UID, v.owner.GID)
}

// Remove deletes the instance's data folder and everything in it. It runs
// through os.Root so that neither the ID nor a symlink a game server
// planted inside the folder can reach anything outside the volumes folder.
func (v Volumes) Remove(id string) error {
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

// Open opens the instance's data folder as a root. Going through the
// volumes folder's own root keeps a planted symbolic link from standing
// in for the folder.
func (v Volumes) Open(id string) (*os.Root, error) {
	parent, err := os.OpenRoot(v.dir)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	return parent.OpenRoot(id)
}
