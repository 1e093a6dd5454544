package files

import (
	"errors"
	"io"
	"io/fs"
	"sync"
	"time"
)

// Writer is a file being written at any offset, as an SFTP client writes
// one: into a temporary file beside its name, counted against the disk
// limit as it grows, and put in place whole by Commit. Until then the file
// at its name is untouched; Abort, or any failed write, leaves nothing
// behind. WriteAt is safe for concurrent use.
type Writer struct {
	f     *Folder
	field string
	name  string
	// freed is the footprint of what the commit replaces.
	freed int64

	// life is held shared by each write to the temporary file, and
	// whole by Commit and Abort, which end it: a write still in flight
	// finishes first.
	life sync.RWMutex
	// mu guards the count and err.
	mu  sync.Mutex
	tmp *tempFile
	cw  *countingWriter
	// size is the file's length so far: the furthest end written.
	size int64
	// err is the first failure; once set, Commit aborts.
	err  error
	done bool
}

// Create starts writing the file at p (sent in field "path"). With keep,
// the write starts from the content of the file already there, as an
// SFTP open without truncation does; otherwise from nothing. The new file
// keeps the mode of the one it replaces.
func (f *Folder) Create(p string, keep bool) (*Writer, error) {
	const field = "path"
	name, err := Clean(field, p)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return nil, newError(Invalid, field, "is the instance's folder itself, not a file")
	}
	if err := f.checkDenied(field, name, false); err != nil {
		return nil, err
	}
	old, err := f.root.Lstat(name)
	switch {
	case err == nil && old.IsDir():
		return nil, newError(Invalid, field, "%q is a folder", name)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fsError(field, name, err)
	}
	w := &Writer{f: f, field: field, name: name}
	w.cw = &countingWriter{usage: f.usage, field: field, name: name, max: noCap}
	mode := fs.FileMode(0o644)
	if old != nil {
		w.freed = footprint(old)
		if old.Mode().IsRegular() {
			mode = old.Mode().Perm()
		}
	}
	// Even an empty file takes a block.
	if err := w.cw.grow(0); err != nil {
		return nil, err
	}
	if w.tmp, err = f.createTemp(field, name, mode); err != nil {
		f.usage.Add(-w.cw.reserved)
		return nil, err
	}
	w.cw.w = w.tmp
	if keep && old != nil && old.Mode().IsRegular() {
		if err := w.copyOld(); err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w, nil
}

// copyOld starts the temporary file with the content of the file it
// replaces, counted as any write.
func (w *Writer) copyOld() error {
	src, _, err := w.f.openRegular(w.field, w.name)
	if err != nil {
		return err
	}
	defer src.Close()
	w.size, err = io.Copy(w.cw, src)
	return err
}

// WriteAt writes b at off. A write that would pass the disk limit fails
// with OverLimit, and so does every later one: the file will not be
// committed.
func (w *Writer) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, newError(Invalid, w.field, "negative offset")
	}
	return w.write(b, func() int64 { return off })
}

// Append writes b at the end of what is written so far, as a file opened
// for appending is written.
func (w *Writer) Append(b []byte) (int, error) {
	return w.write(b, func() int64 { return w.size })
}

// write writes b at the offset at gives, read with the count locked.
func (w *Writer) write(b []byte, at func() int64) (int, error) {
	w.life.RLock()
	defer w.life.RUnlock()
	w.mu.Lock()
	off := at()
	if w.err == nil && w.done {
		w.err = newError(Invalid, w.field, "%q is closed", w.name)
	}
	if w.err == nil {
		// The file is counted for its furthest end: a gap left to fill
		// later is counted as written, which errs on the side of the
		// limit.
		if err := w.cw.grow(off + int64(len(b))); err != nil {
			w.err = err
		}
	}
	if w.err == nil {
		w.size = max(w.size, off+int64(len(b)))
	}
	err := w.err
	w.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := w.tmp.WriteAt(b, off)
	if err != nil {
		w.fail(fsError(w.field, w.name, err))
	}
	return n, err
}

// fail records the first failure.
func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// Commit puts the file in place: sync, rename over its name, sync of the
// folder, as Write does. After a failed write it aborts instead and
// returns that failure. Later calls do nothing.
func (w *Writer) Commit() (Entry, error) {
	w.life.Lock()
	defer w.life.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return Entry{}, w.err
	}
	w.done = true
	if err := w.f.commit(w.tmp, w.name, w.cw, w.err); err != nil {
		if w.err == nil {
			w.err = fsError(w.field, w.name, err)
		}
		return Entry{}, w.err
	}
	w.f.usage.Add(-w.freed)
	return w.f.settle(w.field, w.name, w.cw)
}

// Abort drops the write: the temporary file is removed, what it reserved
// freed, and the file at its name left as it was. Later calls, and
// Commit after it, do nothing.
func (w *Writer) Abort() {
	w.life.Lock()
	defer w.life.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done = true
	if w.err == nil {
		w.err = newError(Invalid, w.field, "the write of %q was abandoned", w.name)
	}
	w.tmp.discard()
	w.f.usage.Add(-w.cw.reserved)
}

// SetAttrs changes the permission bits (when mode is not nil) and the
// access and modification times (when times is not nil) of the file or
// folder at p (sent in field "path"), as an SFTP client sets them after an
// upload. Only the permission bits change: set-id and sticky bits are
// dropped, since the game's files have no business with them.
func (f *Folder) SetAttrs(p string, mode *fs.FileMode, times *[2]time.Time) error {
	const field = "path"
	name, err := Clean(field, p)
	if err != nil {
		return err
	}
	info, err := f.root.Lstat(name)
	if err != nil {
		return fsError(field, name, err)
	}
	if err := f.checkDenied(field, name, info.IsDir()); err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return newError(Invalid, field, "%q is a symbolic link", name)
	}
	if mode != nil {
		if err := f.root.Chmod(name, *mode&fs.ModePerm); err != nil {
			return fsError(field, name, err)
		}
	}
	if times != nil {
		if err := f.root.Chtimes(name, times[0], times[1]); err != nil {
			return fsError(field, name, err)
		}
	}
	return nil
}
