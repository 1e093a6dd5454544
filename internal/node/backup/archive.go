package backup

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/files"
	"github.com/klauspost/pgzip"
	ignore "github.com/sabhiram/go-gitignore"
)

// IgnoreFiles are the files, in the data folder's root, whose gitignore
// patterns leave paths out of a backup. Both are read and both lists
// apply: .pteroignore is what a server moved from Pterodactyl brings.
var IgnoreFiles = []string{".berthignore", ".pteroignore"}

// maxIgnoreFile caps an ignore file: a bigger one is a mistake, not a
// list of patterns, and reading it whole must not cost the node memory.
const maxIgnoreFile = 1 << 20

// gzipBlock is the size of the blocks pgzip compresses in parallel.
const gzipBlock = 1 << 20

// Write archives the folder root as a gzip-compressed tar stream on w,
// compressed on every core, with the file API's archive rules
// (files.Folder.WriteTar): entries named by their path in the folder,
// folders before what they hold, symbolic links stored as links and never
// followed, FIFOs and devices left out, a file shortened while read padded.
// Whatever the ignore files match is left out too.
func Write(ctx context.Context, root *os.Root, w io.Writer) error {
	ign, err := loadIgnore(root)
	if err != nil {
		return err
	}
	gz, err := pgzip.NewWriterLevel(w, pgzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := gz.SetConcurrency(gzipBlock, 2*runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	// The Folder is only read through; root stays the caller's to close.
	if err := files.NewFolder(root, nil).WriteTar(ctx, tw, ign.skip); err != nil {
		gz.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		gz.Close()
		return err
	}
	return gz.Close()
}

// ignoreList is the patterns of the ignore files; without any it leaves
// nothing out.
type ignoreList struct{ gi *ignore.GitIgnore }

// skip reports whether the ignore files leave name out. A folder is
// matched with a trailing slash, so that a pattern such as "logs/" that
// names only folders matches it.
func (l ignoreList) skip(name string, dir bool) bool {
	if l.gi == nil {
		return false
	}
	if dir {
		return l.gi.MatchesPath(name + "/")
	}
	return l.gi.MatchesPath(name)
}

// loadIgnore compiles the patterns of every ignore file in root. A
// missing file adds nothing; a link in place of one is not followed.
func loadIgnore(root *os.Root) (ignoreList, error) {
	var lines []string
	for _, name := range IgnoreFiles {
		info, err := root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !info.Mode().IsRegular() {
			continue
		}
		if err != nil {
			return ignoreList{}, err
		}
		f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return ignoreList{}, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxIgnoreFile))
		f.Close()
		if err != nil {
			return ignoreList{}, err
		}
		lines = append(lines, strings.Split(string(b), "\n")...)
	}
	if len(lines) == 0 {
		return ignoreList{}, nil
	}
	return ignoreList{ignore.CompileIgnoreLines(lines...)}, nil
}
