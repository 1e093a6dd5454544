// Package fault is Berth's one error type: an error with a Kind that says
// what went wrong in terms a caller can act on, and, for invalid input, the
// field at fault. The panel maps each Kind to an HTTP status in one place.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error.
type Kind int

// The kinds of error. Other is an unexpected failure whose details stay in
// the logs.
const (
	Other       Kind = iota
	Invalid          // the request is malformed or breaks a rule
	NotExist         // the thing asked about does not exist
	Exist            // the thing to create already exists
	Conflict         // the request clashes with the current state
	Permission       // the caller may not do this
	Unavailable      // a dependency (a node, Docker) cannot be reached now
)

// Error is an error with a Kind, the field it concerns, and a message meant
// for the caller.
type Error struct {
	Kind  Kind
	Field string
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return "error"
}

func (e *Error) Unwrap() error { return e.Err }

// InvalidField reports that field broke a rule; the message names the field.
func InvalidField(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Msg: field + ": " + fmt.Sprintf(format, args...)}
}

// New returns an error of kind k with a caller-facing message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Message returns the caller-facing message of err, or "" when err carries
// none (an Other error must not leak its details).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Other {
		if e.Msg != "" {
			return e.Msg
		}
		return e.Error()
	}
	return ""
}
