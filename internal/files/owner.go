package files

import (
	"context"
	"io/fs"
	"os"
)

// ChownAll gives the folder and everything in it to uid and gid. It walks
// through root and changes each entry with Lchown, so a symbolic link is
// changed itself and never followed, and nothing outside the folder is
// reached whatever links it holds. It stops when ctx is done.
func ChownAll(ctx context.Context, root *os.Root, uid, gid int) error {
	return fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return root.Lchown(name, uid, gid)
	})
}
