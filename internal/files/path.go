// Package files is the file manager of an instance's data folder: list,
// read, write, upload, compress, extract and the rest, every one confined
// to the folder through os.Root, and every write counted against the
// instance's disk limit.
//
// A client's path is checked by Clean before anything touches the disk,
// and then used only as a name inside the folder's os.Root, which refuses
// to follow a symbolic link out of it. Names are never joined onto a host
// path. What the package creates itself never points out either: it
// writes through a temporary file and a rename, so a symbolic link in the
// way is replaced rather than written through, and an archive's links are
// checked before they are made.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Limits of a path a client may give.
const (
	// MaxPathBytes is the longest path accepted, as Linux's PATH_MAX.
	MaxPathBytes = 4096
	// MaxNameBytes is the longest name of one component, as NAME_MAX.
	MaxNameBytes = 255
)

// Kind says what went wrong, in terms an HTTP layer can map to a status.
type Kind int

// The kinds of Error.
const (
	// Invalid is a malformed request: a bad path, a file where a folder
	// is needed, an archive that cannot be read (400).
	Invalid Kind = iota + 1
	// Escape is an attempt to reach outside the folder: an absolute path,
	// "..", a symbolic link or an archive entry that leads out (403).
	Escape
	// NotExist is a missing file or folder (404).
	NotExist
	// Exist is a file or folder in the way of a create or rename (409).
	Exist
	// TooLarge is a body, file or archive over a size cap (413).
	TooLarge
	// OverLimit is a write that would pass the instance's disk limit (413).
	OverLimit
	// Denied is a path the template's file denylist keeps from the file
	// API (403).
	Denied
)

// Error is the package's one error type. Its message names the request
// field at fault and is safe to show the caller: it never holds a host
// path.
type Error struct {
	Kind Kind
	// Field is the request field the error concerns: "path", "to", ...
	Field string
	// Msg is the rule that was broken or what went wrong.
	Msg string
	// Err is the underlying error, for logs.
	Err error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func newError(k Kind, field, format string, args ...any) *Error {
	return &Error{Kind: k, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Clean checks a path a client sent in field and returns the name that
// addresses it inside the folder: relative, cleaned, and "." for the
// folder itself ("" also means the folder). It refuses, with Invalid, a
// path longer than MaxPathBytes, a component longer than MaxNameBytes,
// NUL and invalid UTF-8; and, with Escape, an absolute path and any ".."
// component, even one that would stay inside: a client never needs one,
// and a symbolic link before it could make it mean somewhere else.
func Clean(field, p string) (string, error) {
	if len(p) > MaxPathBytes {
		return "", newError(Invalid, field, "must be at most %d bytes", MaxPathBytes)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", newError(Invalid, field, "must not contain NUL")
	}
	if !utf8.ValidString(p) {
		return "", newError(Invalid, field, "must be valid UTF-8")
	}
	if strings.HasPrefix(p, "/") {
		return "", newError(Escape, field, "must be relative to the instance's folder, not absolute")
	}
	for comp := range strings.SplitSeq(p, "/") {
		if comp == ".." {
			return "", newError(Escape, field, "must not contain '..'")
		}
		if len(comp) > MaxNameBytes {
			return "", newError(Invalid, field, "each name must be at most %d bytes", MaxNameBytes)
		}
	}
	return path.Clean("./" + p), nil
}

// errPathEscapes is the text of the error os.Root returns when a name, or
// a symbolic link on its way, leads outside the root. The os package does
// not export it; TestRootEscapeErrorIsRecognised notices if it changes.
const errPathEscapes = "path escapes from parent"

// escapes reports whether err is os.Root's refusal of a name that leads
// outside it. A rename or a link reports it in an *os.LinkError, the rest
// in an *fs.PathError.
func escapes(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err != nil && pe.Err.Error() == errPathEscapes
	}
	var le *os.LinkError
	return errors.As(err, &le) && le.Err != nil && le.Err.Error() == errPathEscapes
}

// fsError turns an error from the file system about name (sent in field)
// into an *Error, keeping the original for the logs. Errors it cannot
// explain to a client are returned as they are, for a 500.
func fsError(field, name string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if escapes(err) {
		return &Error{Kind: Escape, Field: field, Msg: fmt.Sprintf("%q leads outside the instance's folder", name), Err: err}
	}
	wrap := func(k Kind, msg string) error {
		return &Error{Kind: k, Field: field, Msg: fmt.Sprintf("%q %s", name, msg), Err: err}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return wrap(NotExist, "does not exist")
	case errors.Is(err, fs.ErrExist):
		return wrap(Exist, "already exists")
	case errors.Is(err, syscall.ENOTDIR):
		return wrap(Invalid, "is not inside a folder (a part of it is a file)")
	case errors.Is(err, syscall.EISDIR):
		return wrap(Invalid, "is a folder")
	case errors.Is(err, syscall.ENOTEMPTY):
		return wrap(Exist, "is a folder that is not empty")
	case errors.Is(err, syscall.ELOOP):
		return wrap(Invalid, "has too many levels of symbolic links")
	case errors.Is(err, syscall.ENAMETOOLONG):
		return wrap(Invalid, "is too long")
	case errors.Is(err, syscall.EINVAL):
		return wrap(Invalid, "cannot be used that way (a folder cannot move into itself)")
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &Error{Kind: OverLimit, Field: field, Msg: "the node's disk is full", Err: err}
	}
	return err
}
