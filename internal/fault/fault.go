// Package fault is Berth's one error type: an error with a Kind that says
// what went wrong in terms a caller can act on, and, for invalid input, the
// field at fault. Kinds cross the panel-node wire by name (Kind.String);
// the panel maps each Kind to an HTTP status in one place.
package fault

import (
	"errors"
	"fmt"
	"net/http"
	"time"
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
	TooLarge         // a body, a file or a folder is over a cap or a limit
	TooMany          // a cap on how often or how many is reached; later may work
)

// kindNames are the kinds' names on the wire (the "kind" of a node's error
// answer): stable, whatever the order of the constants.
var kindNames = [...]string{
	Other:       "other",
	Invalid:     "invalid",
	NotExist:    "not_exist",
	Exist:       "exist",
	Conflict:    "conflict",
	Permission:  "permission",
	Unavailable: "unavailable",
	TooLarge:    "too_large",
	TooMany:     "too_many",
}

// statuses are the HTTP statuses that answer each kind: the one table of
// them, read both ways, by the panel's answers and the node's, and by the
// panel reading a node's answer that names no kind.
var statuses = [...]int{
	Other:       http.StatusInternalServerError,
	Invalid:     http.StatusBadRequest,
	NotExist:    http.StatusNotFound,
	Exist:       http.StatusConflict,
	Conflict:    http.StatusConflict,
	Permission:  http.StatusForbidden,
	Unavailable: http.StatusServiceUnavailable,
	TooLarge:    http.StatusRequestEntityTooLarge,
	TooMany:     http.StatusTooManyRequests,
}

// Status is the HTTP status that answers an error of kind k.
func (k Kind) Status() int {
	if k < 0 || int(k) >= len(statuses) {
		return statuses[Other]
	}
	return statuses[k]
}

// KindOfStatus is the kind an error answer's status stands for: 409 reads
// as Conflict, 422 as Invalid, and a status no kind has as Other.
func KindOfStatus(status int) Kind {
	if status == http.StatusUnprocessableEntity {
		return Invalid
	}
	for k, st := range statuses {
		if st == status && Kind(k) != Exist {
			return Kind(k)
		}
	}
	return Other
}

// Kinds lists every kind.
func Kinds() []Kind {
	list := make([]Kind, len(kindNames))
	for i := range list {
		list[i] = Kind(i)
	}
	return list
}

// String is the kind's stable name, such as "not_exist".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return kindNames[Other]
	}
	return kindNames[k]
}

// ParseKind reads a name String returned; ok is false for any other.
func ParseKind(name string) (k Kind, ok bool) {
	for i, n := range kindNames {
		if n == name {
			return Kind(i), true
		}
	}
	return Other, false
}

// Error is an error with a Kind, the field it concerns, and a message meant
// for the caller.
type Error struct {
	Kind  Kind
	Field string
	Msg   string
	Err   error
	// RetryAfter, for a TooMany error, is how long the caller should wait
	// before trying again; 0 when unknown.
	RetryAfter time.Duration
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

// RetryAfterOf returns the wait the first *Error in err's chain asks for,
// or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
