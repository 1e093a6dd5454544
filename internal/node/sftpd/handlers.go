package sftpd

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"

	"github.com/berth-dev/berth/internal/files"
)

// handlers serve one session's SFTP requests, each through the session's
// files.Folder: every path is checked by files.Clean and resolved inside
// the instance's os.Root, and every write is counted against its disk
// limit. Changes need files.write, as the session holds it now.
type handlers struct {
	se *session
}

// folderPath turns an SFTP path, absolute from the instance's folder,
// into the folder's relative form. pkg/sftp has cleaned it already; files
// checks it again.
func folderPath(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// sftpError turns a files error into the status an SFTP client
// understands, keeping the message where the status has no fixed one (a
// full disk, a file in the way).
func sftpError(err error) error {
	var fe *files.Error
	if !errors.As(err, &fe) {
		return err
	}
	switch fe.Kind {
	case files.NotExist:
		return sftp.ErrSSHFxNoSuchFile
	case files.Escape, files.Denied:
		return sftp.ErrSSHFxPermissionDenied
	}
	// Failure, with the files package's message, which is safe to show.
	return errors.New(fe.Error())
}

// canWrite refuses a change to a session without files.write.
func (h *handlers) canWrite() error {
	if !h.se.write.Load() {
		return sftp.ErrSSHFxPermissionDenied
	}
	return nil
}

// Fileread opens a regular file for reading.
func (h *handlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f, _, err := h.se.folder.OpenFile("path", folderPath(r.Filepath), 0)
	if err != nil {
		return nil, sftpError(err)
	}
	return f, nil
}

// Filewrite opens a file for writing: a files.Writer, which puts the file
// in place when the client closes it, and drops it if the transfer fails.
func (h *handlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	if err := h.canWrite(); err != nil {
		return nil, err
	}
	flags := r.Pflags()
	p := folderPath(r.Filepath)
	if flags.Excl {
		if _, err := h.se.folder.Stat("path", p); err == nil {
			return nil, sftpError(&files.Error{Kind: files.Exist, Field: "path", Msg: "path: " + p + " already exists"})
		}
	}
	w, err := h.se.folder.Create(p, !flags.Trunc)
	if err != nil {
		return nil, sftpError(err)
	}
	return &upload{w: w, h: h, append: flags.Append}, nil
}

// upload is an open file of Filewrite.
type upload struct {
	w *files.Writer
	h *handlers
	// append sends every write to the end, whatever its offset, as
	// SFTP's append flag asks.
	append bool
}

func (u *upload) WriteAt(b []byte, off int64) (int, error) {
	if err := u.h.canWrite(); err != nil {
		u.w.Abort()
		return 0, err
	}
	var n int
	var err error
	if u.append {
		n, err = u.w.Append(b)
	} else {
		n, err = u.w.WriteAt(b, off)
	}
	return n, sftpError(err)
}

// TransferError is told of a transfer that failed, such as a connection
// lost mid-upload: the file is dropped, never committed half-written.
func (u *upload) TransferError(error) { u.w.Abort() }

// Close commits the file, unless the session lost files.write meanwhile.
func (u *upload) Close() error {
	if err := u.h.canWrite(); err != nil {
		u.w.Abort()
		return err
	}
	_, err := u.w.Commit()
	return sftpError(err)
}

// Filecmd carries out the requests that change the folder's tree.
func (h *handlers) Filecmd(r *sftp.Request) error {
	if r.Method == "StatVFS" {
		return sftp.ErrSSHFxOpUnsupported
	}
	if err := h.canWrite(); err != nil {
		return err
	}
	f := h.se.folder
	p := folderPath(r.Filepath)
	switch r.Method {
	case "Setstat":
		return h.setstat(r, p)
	case "Rename", "PosixRename":
		// A file at the target is refused, even by posix-rename, which
		// would replace it: files.Rename never replaces, so that nothing
		// is lost to a mistyped name. A client removes the target first.
		return sftpError(f.Rename(p, folderPath(r.Target)))
	case "Mkdir":
		return sftpError(f.Mkdir(p))
	case "Rmdir":
		return h.remove(p, true)
	case "Remove":
		return h.remove(p, false)
	}
	// Links are refused: the node never follows one out of the folder,
	// but the game in its container might.
	return sftp.ErrSSHFxOpUnsupported
}

// setstat sets a file's permission bits and times. Its size is refused
// (a truncate would bypass the atomic writes) and its owner ignored:
// files belong to the user the game runs as, whoever uploads them.
func (h *handlers) setstat(r *sftp.Request, p string) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	if flags.Size {
		return sftp.ErrSSHFxOpUnsupported
	}
	var mode *fs.FileMode
	var times *[2]time.Time
	if flags.Permissions {
		m := attrs.FileMode()
		mode = &m
	}
	if flags.Acmodtime {
		times = &[2]time.Time{time.Unix(int64(attrs.Atime), 0), time.Unix(int64(attrs.Mtime), 0)}
	}
	if mode == nil && times == nil {
		return nil
	}
	return sftpError(h.se.folder.SetAttrs(p, mode, times))
}

// remove removes a file (dir false) or an empty folder (dir true), as
// SFTP's remove and rmdir do; files.Delete itself would take a folder
// with everything in it.
func (h *handlers) remove(p string, dir bool) error {
	f := h.se.folder
	e, err := f.Stat("path", p)
	if err != nil {
		return sftpError(err)
	}
	switch {
	case dir && !e.IsDir, !dir && e.IsDir:
		return sftp.ErrSSHFxFailure
	case dir:
		list, err := f.List(p)
		if err != nil {
			return sftpError(err)
		}
		if len(list.Entries) > 0 {
			return errors.New("path: the folder is not empty")
		}
	}
	return sftpError(f.Delete([]string{p}))
}

// Filelist answers List, Stat and Lstat. Stat does not follow a symbolic
// link either: what it leads to may be out of the folder.
func (h *handlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	f := h.se.folder
	p := folderPath(r.Filepath)
	switch r.Method {
	case "List":
		list, err := f.List(p)
		if err != nil {
			return nil, sftpError(err)
		}
		out := make(listing, len(list.Entries))
		for i, e := range list.Entries {
			out[i] = fileInfo{e}
		}
		return out, nil
	case "Stat", "Lstat":
		e, err := f.Stat("path", p)
		if err != nil {
			return nil, sftpError(err)
		}
		if p == "." {
			e.Name = "/"
		}
		return listing{fileInfo{e}}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// listing is the answer of Filelist.
type listing []os.FileInfo

// ListAt copies the entries from offset into ls.
func (l listing) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[offset:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}

// fileInfo is a files.Entry as an os.FileInfo.
type fileInfo struct{ e files.Entry }

func (f fileInfo) Name() string       { return f.e.Name }
func (f fileInfo) Size() int64        { return f.e.Size }
func (f fileInfo) Mode() fs.FileMode  { return f.e.Mode }
func (f fileInfo) ModTime() time.Time { return f.e.ModTime }
func (f fileInfo) IsDir() bool        { return f.e.IsDir }
func (f fileInfo) Sys() any           { return nil }
