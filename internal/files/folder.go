package files

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tempPrefix starts the name of the temporary file of every write, so that
// a file left by a crash is recognisable in a listing.
const tempPrefix = ".berth-tmp-"

// MaxListEntries caps one listing; a folder with more is cut short.
const MaxListEntries = 10000

// Folder is an instance's data folder, opened for file operations. Every
// name it takes is a client's path, checked by Clean, and every access goes
// through its os.Root. It is safe for concurrent use.
type Folder struct {
	root  *os.Root
	usage *Usage
	// uid and gid are given what the folder creates (SetOwner); -1
	// leaves the creator's.
	uid, gid int
	// deny is the template's file denylist (SetDenylist).
	deny *Denylist
}

// Open opens the folder dir. Writes are counted in usage and refused past
// its limit; a nil usage counts nothing and has no limit.
func Open(dir string, usage *Usage) (*Folder, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return NewFolder(root, usage), nil
}

// NewFolder is Open for a root already open. The Folder owns root and
// closes it in Close.
func NewFolder(root *os.Root, usage *Usage) *Folder {
	if usage == nil {
		usage = &Usage{}
	}
	return &Folder{root: root, usage: usage, uid: -1, gid: -1}
}

// SetOwner makes every file, folder and link the folder creates from now
// on (writes, uploads, new folders, extractions, archives) owned by uid and
// gid, the user the game server runs as, so that it can change them. It is
// called before the folder is used. Without it they keep the creator's.
func (f *Folder) SetOwner(uid, gid int) {
	f.uid, f.gid = uid, gid
}

// chown gives name, without following a symbolic link at its end, to the
// folder's owner, if it has one.
func (f *Folder) chown(name string) error {
	if f.uid < 0 {
		return nil
	}
	return f.root.Lchown(name, f.uid, f.gid)
}

// Close closes the folder's root.
func (f *Folder) Close() error { return f.root.Close() }

// Usage returns the count this folder's writes are made against.
func (f *Folder) Usage() *Usage { return f.usage }

// Entry describes one file or folder of a listing.
type Entry struct {
	Name      string
	Size      int64
	Mode      fs.FileMode
	ModTime   time.Time
	IsDir     bool
	IsSymlink bool
}

// Listing is the content of one folder.
type Listing struct {
	// Path is the cleaned path of the folder listed.
	Path    string
	Entries []Entry
	// Truncated is set when the folder held more than MaxListEntries.
	Truncated bool
}

// List lists the folder at dir (sent in field "path"): folders first, then
// files, each group by name. A symbolic link is listed as itself, never
// followed; listing a folder through a link that leads out is refused.
func (f *Folder) List(dir string) (Listing, error) {
	name, err := Clean("path", dir)
	if err != nil {
		return Listing{}, err
	}
	d, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return Listing{}, newError(Invalid, "path", "%q is not a folder", name)
		}
		return Listing{}, fsError("path", name, err)
	}
	defer d.Close()
	list := Listing{Path: name, Entries: []Entry{}}
	for {
		batch, err := d.ReadDir(1024)
		for _, e := range batch {
			if len(list.Entries) == MaxListEntries {
				list.Truncated = true
				break
			}
			info, err := e.Info()
			if err != nil {
				continue // removed since the folder was read
			}
			list.Entries = append(list.Entries, entryOf(info))
		}
		if list.Truncated || err == io.EOF || len(batch) == 0 {
			break
		}
		if err != nil {
			return Listing{}, fsError("path", name, err)
		}
	}
	slices.SortFunc(list.Entries, func(a, b Entry) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return list, nil
}

func entryOf(info fs.FileInfo) Entry {
	return Entry{
		Name:      info.Name(),
		Size:      info.Size(),
		Mode:      info.Mode(),
		ModTime:   info.ModTime().UTC(),
		IsDir:     info.IsDir(),
		IsSymlink: info.Mode()&fs.ModeSymlink != 0,
	}
}

// Stat describes the file or folder at p (sent in field) without following
// a symbolic link at its end.
func (f *Folder) Stat(field, p string) (Entry, error) {
	name, err := Clean(field, p)
	if err != nil {
		return Entry{}, err
	}
	info, err := f.root.Lstat(name)
	if err != nil {
		return Entry{}, fsError(field, name, err)
	}
	e := entryOf(info)
	if name == "." {
		e.Name = "."
	}
	return e, nil
}

// OpenFile opens the regular file at p (sent in field) for reading. A
// max above zero refuses a larger file with TooLarge. Only regular files
// are opened: a FIFO the game made would block the reader, and a device
// node would expose the host. The caller closes the file.
func (f *Folder) OpenFile(field, p string, max int64) (*os.File, Entry, error) {
	name, err := Clean(field, p)
	if err != nil {
		return nil, Entry{}, err
	}
	if err := f.checkDenied(field, name, false); err != nil {
		return nil, Entry{}, err
	}
	file, info, err := f.openRegular(field, name)
	if err != nil {
		return nil, Entry{}, err
	}
	if max > 0 && info.Size() > max {
		file.Close()
		return nil, Entry{}, newError(TooLarge, field, "%q is %s, over the %s that can be read at once; download it instead",
			name, FormatBytes(info.Size()), FormatBytes(max))
	}
	return file, entryOf(info), nil
}

// openRegular opens name, already clean, and checks on the open file that
// it is a regular one.
func (f *Folder) openRegular(field, name string) (*os.File, fs.FileInfo, error) {
	file, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fsError(field, name, err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	switch {
	case info.IsDir():
		file.Close()
		return nil, nil, newError(Invalid, field, "%q is a folder", name)
	case !info.Mode().IsRegular():
		file.Close()
		return nil, nil, newError(Invalid, field, "%q is not a regular file", name)
	}
	return file, info, nil
}

// Write replaces the file at p (sent in field "path") with what r holds,
// at most max bytes (0: no cap), atomically: the content goes to a
// temporary file beside it, which is then renamed over it, so a reader
// never sees half a file and a symbolic link at p is replaced, not written
// through. size, when not negative, is the length announced, checked
// against the caps before anything is read. The new file keeps the mode
// of the one it replaces.
func (f *Folder) Write(p string, r io.Reader, size, max int64) (Entry, error) {
	const field = "path"
	name, err := Clean(field, p)
	if err != nil {
		return Entry{}, err
	}
	if name == "." {
		return Entry{}, newError(Invalid, field, "is the instance's folder itself, not a file")
	}
	if err := f.checkDenied(field, name, false); err != nil {
		return Entry{}, err
	}
	if max > 0 && size > max {
		return Entry{}, newError(TooLarge, field, "the content is %s, over the cap of %s", FormatBytes(size), FormatBytes(max))
	}
	if max <= 0 {
		max = noCap
	}
	return f.writeFile(field, name, r, size, max, 0)
}

// noCap is the max of a write that has no size cap.
const noCap int64 = -1

// writeFile is Write for a clean name: temporary file, copy under the
// caps and the disk limit, rename, and the count adjusted for the file
// replaced. A negative max is no cap. A perm of 0 keeps the replaced
// file's, or 0644 for a new one.
func (f *Folder) writeFile(field, name string, r io.Reader, size, max int64, perm fs.FileMode) (Entry, error) {
	old, err := f.root.Lstat(name)
	switch {
	case err == nil && old.IsDir():
		return Entry{}, newError(Invalid, field, "%q is a folder", name)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return Entry{}, fsError(field, name, err)
	}
	// What is replaced is freed: a file, or a link in the way.
	var freed int64
	mode := fs.FileMode(0o644)
	if old != nil {
		freed = footprint(old)
		if old.Mode().IsRegular() {
			mode = old.Mode().Perm()
		}
	}
	if perm != 0 {
		mode = perm
	}
	if size >= 0 {
		if err := f.usage.Check(field, blocks(size)-freed); err != nil {
			return Entry{}, err
		}
	}
	w := &countingWriter{usage: f.usage, field: field, max: max, name: name}
	// Even an empty file takes a block.
	if err := w.grow(0); err != nil {
		return Entry{}, err
	}
	tmp, err := f.createTemp(field, name, mode)
	if err != nil {
		f.usage.Add(-w.reserved)
		return Entry{}, err
	}
	w.w = tmp
	_, err = io.Copy(w, r)
	if err := f.commit(tmp, name, w, err); err != nil {
		return Entry{}, fsError(field, name, err)
	}
	f.usage.Add(-freed)
	return f.settle(field, name, w)
}

// settle replaces what a write reserved by the footprint of the file it
// made, now that the file system has allocated it, and describes the
// file.
func (f *Folder) settle(field, name string, w *countingWriter) (Entry, error) {
	info, err := f.root.Lstat(name)
	if err != nil {
		f.usage.Add(-w.reserved)
		return Entry{}, fsError(field, name, err)
	}
	f.usage.Add(footprint(info) - w.reserved)
	return entryOf(info), nil
}

// createTemp creates an empty temporary file in the folder of name
// (WriteAtomic's first step), owned by the folder's owner.
func (f *Folder) createTemp(field, name string, mode fs.FileMode) (*tempFile, error) {
	t, err := openTemp(f.root, name, mode)
	if err != nil {
		return nil, fsError(field, path.Dir(name), err)
	}
	if f.uid >= 0 {
		if err := t.Chown(f.uid, f.gid); err != nil {
			t.discard()
			return nil, fsError(field, name, err)
		}
	}
	// The umask may have narrowed the mode; the file keeps the old one.
	_ = t.Chmod(mode)
	return t, nil
}

// commit ends the write of a temporary file as WriteAtomic does (sync,
// rename by path, sync of the folder, or removal from the folder the file
// is really in); after a failure it also takes back what cw reserved.
func (f *Folder) commit(t *tempFile, name string, cw *countingWriter, err error) error {
	if err = t.finish(f.root, name, err); err != nil {
		f.usage.Add(-cw.reserved)
	}
	return err
}

// countingWriter writes to w, reserving the blocks each chunk needs
// against the disk limit before it is written, and refusing past max
// bytes (negative: no cap).
type countingWriter struct {
	w     io.Writer
	usage *Usage
	field string
	name  string
	max   int64
	// n is the bytes written so far.
	n int64
	// reserved is what is counted for the file so far, in whole blocks.
	reserved int64
}

// grow reserves the blocks a file of n bytes needs beyond those reserved.
func (c *countingWriter) grow(n int64) error {
	need := blocks(n) - c.reserved
	if need <= 0 {
		return nil
	}
	if err := c.usage.Reserve(c.field, need); err != nil {
		return err
	}
	c.reserved += need
	return nil
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.max >= 0 && c.n+int64(len(p)) > c.max {
		return 0, newError(TooLarge, c.field, "%q is over the cap of %s", c.name, FormatBytes(c.max))
	}
	if err := c.grow(c.n + int64(len(p))); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Mkdir creates the folder at p (sent in field "path") and any missing
// parents. A folder that already exists is Exist.
func (f *Folder) Mkdir(p string) error {
	const field = "path"
	name, err := Clean(field, p)
	if err != nil {
		return err
	}
	if _, err := f.root.Lstat(name); err == nil {
		return newError(Exist, field, "%q already exists", name)
	}
	if err := f.checkDenied(field, name, true); err != nil {
		return err
	}
	return f.mkdirAll(field, name)
}

// mkdirAll creates name and its missing parents, giving each new folder
// to the folder's owner.
func (f *Folder) mkdirAll(field, name string) error {
	if name == "." {
		return nil
	}
	info, err := f.root.Stat(name)
	if err == nil {
		if info.IsDir() {
			return nil
		}
		return newError(Exist, field, "%q is a file, not a folder", name)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fsError(field, name, err)
	}
	if err := f.mkdirAll(field, path.Dir(name)); err != nil {
		return err
	}
	if err := f.usage.Reserve(field, BlockSize); err != nil {
		return err
	}
	if err := f.root.Mkdir(name, 0o755); err != nil {
		f.usage.Add(-BlockSize)
		if !errors.Is(err, fs.ErrExist) {
			return fsError(field, name, err)
		}
	}
	if err := f.chown(name); err != nil {
		return fsError(field, name, err)
	}
	return nil
}

// Rename moves the file or folder at from to to. It refuses to replace
// anything at to. A symbolic link is moved as itself.
func (f *Folder) Rename(from, to string) error {
	src, err := Clean("from", from)
	if err != nil {
		return err
	}
	dst, err := Clean("to", to)
	if err != nil {
		return err
	}
	if src == "." {
		return newError(Invalid, "from", "the instance's folder itself cannot be moved")
	}
	if dst == "." {
		return newError(Exist, "to", "is the instance's folder itself")
	}
	info, err := f.root.Lstat(src)
	if err != nil {
		return fsError("from", src, err)
	}
	if err := f.checkDeniedTree("from", src); err != nil {
		return err
	}
	if err := f.checkDenied("to", dst, info.IsDir()); err != nil {
		return err
	}
	if _, err := f.root.Lstat(dst); err == nil {
		return newError(Exist, "to", "%q already exists", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fsError("to", dst, err)
	}
	if err := f.root.Rename(src, dst); err != nil {
		return fsError("to", dst, err)
	}
	return nil
}

// Delete removes each of paths (sent in field "paths"), folders with
// everything in them. Symbolic links are removed, never followed. All
// paths are checked before anything is removed.
func (f *Folder) Delete(paths []string) error {
	const field = "paths"
	if len(paths) == 0 {
		return newError(Invalid, field, "at least one path is required")
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		name, err := Clean(field, p)
		if err != nil {
			return err
		}
		if name == "." {
			return newError(Invalid, field, "the instance's folder itself cannot be deleted")
		}
		if _, err := f.root.Lstat(name); err != nil {
			return fsError(field, name, err)
		}
		if err := f.checkDeniedTree(field, name); err != nil {
			return err
		}
		names[i] = name
	}
	for _, name := range names {
		freed, err := f.sizeOf(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fsError(field, name, err)
		}
		err = f.root.RemoveAll(name)
		// What was removed before a failure is freed all the same; the
		// next walk corrects the difference.
		f.usage.Add(-freed)
		if err != nil {
			return fsError(field, name, err)
		}
	}
	return nil
}

// sizeOf is the footprint of name and, for a folder, of everything in
// it, found without following symbolic links.
func (f *Folder) sizeOf(name string) (int64, error) {
	info, err := f.root.Lstat(name)
	if err != nil {
		return 0, err
	}
	if !info.IsDir() {
		return footprint(info), nil
	}
	sub, err := f.root.OpenRoot(name)
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	inside, err := Measure(context.Background(), sub)
	return footprint(info) + inside, err
}
