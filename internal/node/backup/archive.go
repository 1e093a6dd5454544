package backup

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"syscall"

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
// compressed on every core. Entries are named by their path in the
// folder; folders come before what they hold, in name order. Symbolic
// links are stored as links and never followed; FIFOs, sockets and
// devices are left out, and so is whatever the ignore files match. A file
// the game shortens while it is read is padded with zeros, as GNU tar
// does, since its header already promised its size.
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
	a := archiver{ctx: ctx, root: root, ignore: ign, tw: tar.NewWriter(gz), buf: make([]byte, 256<<10)}
	if err := a.add("."); err != nil {
		gz.Close()
		return err
	}
	if err := a.tw.Close(); err != nil {
		gz.Close()
		return err
	}
	return gz.Close()
}

// loadIgnore compiles the patterns of every ignore file in root. A
// missing file adds nothing; a link in place of one is not followed.
func loadIgnore(root *os.Root) (*ignore.GitIgnore, error) {
	var lines []string
	for _, name := range IgnoreFiles {
		info, err := root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !info.Mode().IsRegular() {
			continue
		}
		if err != nil {
			return nil, err
		}
		f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxIgnoreFile))
		f.Close()
		if err != nil {
			return nil, err
		}
		lines = append(lines, strings.Split(string(b), "\n")...)
	}
	if len(lines) == 0 {
		return nil, nil
	}
	return ignore.CompileIgnoreLines(lines...), nil
}

// archiver is one Write in progress.
type archiver struct {
	ctx    context.Context
	root   *os.Root
	ignore *ignore.GitIgnore
	tw     *tar.Writer
	buf    []byte
}

// ignored reports whether the ignore files leave name out. A folder is
// matched with a trailing slash, so that a pattern such as "logs/" that
// names only folders matches it.
func (a *archiver) ignored(name string, dir bool) bool {
	if a.ignore == nil {
		return false
	}
	if dir {
		return a.ignore.MatchesPath(name + "/")
	}
	return a.ignore.MatchesPath(name)
}

// add archives name, and everything under it when it is a folder.
func (a *archiver) add(name string) error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	info, err := a.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) && name != "." {
		return nil // removed by the game since its folder was read
	}
	if err != nil {
		return err
	}
	if name != "." && a.ignored(name, info.IsDir()) {
		return nil
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := a.root.Readlink(name)
		if err != nil {
			return err
		}
		return a.header(info, name, target)
	case info.IsDir():
		return a.addFolder(info, name)
	case info.Mode().IsRegular():
		return a.addFile(name)
	}
	return nil
}

func (a *archiver) addFolder(info fs.FileInfo, name string) error {
	if name != "." {
		if err := a.header(info, name+"/", ""); err != nil {
			return err
		}
	}
	d, err := a.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	children, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	slices.Sort(children)
	for _, c := range children {
		if err := a.add(path.Join(name, c)); err != nil {
			return err
		}
	}
	return nil
}

// addFile archives a regular file. It is opened without following a link
// (the game may have swapped one in since the Lstat) and checked again.
func (a *archiver) addFile(name string) error {
	f, err := a.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	if err := a.header(info, name, ""); err != nil {
		return err
	}
	n, err := io.CopyBuffer(a.tw, io.LimitReader(onlyReader{f}, info.Size()), a.buf)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(a.tw, io.LimitReader(zeros{}, info.Size()-n), a.buf)
	return err
}

func (a *archiver) header(info fs.FileInfo, name, link string) error {
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", ""
	return a.tw.WriteHeader(hdr)
}

// onlyReader hides a file's WriterTo, so that io.CopyBuffer uses the
// archiver's buffer instead of allocating its own for every file.
type onlyReader struct{ io.Reader }

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
