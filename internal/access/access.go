// Package access is Berth's one authorizer: it answers "may this principal
// do this to this instance" for admin API keys, admin users, owners,
// subusers and personal access tokens alike. The client API, the console,
// the web UI and SFTP all ask it, so a rule lives in one place.
//
// Its answers are fault errors whose kinds the panel maps to statuses: a
// principal with no business with an instance gets NotExist (404, never a
// hint that the instance exists), one that lacks a permission Permission
// (403), and a change to a suspended instance Conflict (409).
package access

import (
	"context"
	"slices"

	"github.com/berth-dev/berth/internal/fault"
)

// Permission is one thing a subuser may be granted on an instance.
type Permission string

// The permissions of DESIGN §8. Owners and admins hold all of them.
const (
	ConsoleRead  Permission = "console.read"  // console output, logs, stats, install log, activity
	ConsoleWrite Permission = "console.write" // console commands
	Power        Permission = "power"         // start, stop, restart, kill
	FilesRead    Permission = "files.read"    // list, read and download files
	FilesWrite   Permission = "files.write"   // write, upload, rename, delete, archive
	SFTP         Permission = "sftp"          // sign in over SFTP
	Backups      Permission = "backups"       // create, restore and delete backups
	Schedules    Permission = "schedules"     // manage schedules
	Settings     Permission = "settings"      // variables, name
	Subusers     Permission = "subusers"      // add, change and remove subusers
)

// All lists every permission, in the order the API shows them.
var All = []Permission{ConsoleRead, ConsoleWrite, Power, FilesRead, FilesWrite, SFTP, Backups, Schedules, Settings, Subusers}

// ParsePermissions checks a list of permission names from a request: each
// must be known, and none repeated. The result is in All's order.
func ParsePermissions(names []string) ([]Permission, error) {
	seen := make(map[Permission]bool, len(names))
	for _, n := range names {
		p := Permission(n)
		if !slices.Contains(All, p) {
			return nil, fault.InvalidField("permissions", "unknown permission %q", n)
		}
		if seen[p] {
			return nil, fault.InvalidField("permissions", "%q is listed twice", n)
		}
		seen[p] = true
	}
	out := make([]Permission, 0, len(seen))
	for _, p := range All {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// Kind is the kind of credential a principal presented.
type Kind int

// The kinds of principal.
const (
	AdminKey    Kind = iota + 1 // an admin API key (x-api-key)
	Session                     // a signed-in user's session cookie
	Token                       // a personal access token (Bearer berth_pat_...)
	SFTPSession                 // an SFTP session, signed in through a node
)

// String names the kind as the activity log records it: "key", "session",
// "token" or "sftp".
func (k Kind) String() string {
	switch k {
	case AdminKey:
		return "key"
	case Session:
		return "session"
	case Token:
		return "token"
	case SFTPSession:
		return "sftp"
	}
	return "unknown"
}

// Principal is who is asking: the credential's kind and, for sessions and
// tokens, the user behind it.
type Principal struct {
	Kind Kind
	// CredentialID is the API key's, session's or token's id, for the
	// activity log.
	CredentialID string
	// UserID is the user of a session or token; empty for an admin key.
	UserID string
	// Admin is set for admin users; an admin key is always admin.
	Admin bool
	// ReadOnly is set for a read-only token: it may read, never change.
	ReadOnly bool
}

// IsAdmin reports whether p may use the admin API: an admin key, or an
// admin user's session or token.
func (p Principal) IsAdmin() bool { return p.Kind == AdminKey || p.Admin }

// Instance is what the authorizer needs to know of an instance.
type Instance struct {
	ID        string
	OwnerID   string
	Suspended bool
	// Granted holds, when the principal's user is a subuser of the
	// instance, what it was granted; nil when it is not one.
	Granted []Permission
}

// Held returns the permissions p holds on in: all of them for admins and
// the owner, the grant for a subuser, none for anyone else.
func Held(p Principal, in Instance) []Permission {
	switch {
	case p.IsAdmin(), p.UserID != "" && p.UserID == in.OwnerID:
		return slices.Clone(All)
	case p.UserID != "" && in.Granted != nil:
		return slices.Clone(in.Granted)
	}
	return nil
}

// Action is something a principal wants to do to an instance.
type Action struct {
	// Need is the permission the action takes; empty for what anyone with
	// business on the instance may do (see View).
	Need Permission
	// Change is set when the action changes anything: read-only tokens and
	// suspended instances refuse it.
	Change bool
}

// ErrNotFound is the answer about an instance the principal has no
// business with, word for word the answer about one that does not exist:
// callers that find no instance at all give it too.
var ErrNotFound error = &fault.Error{Kind: fault.NotExist, Msg: "instance not found"}

// View is seeing an instance at all: its summary and its activity. Any
// permission on it, or none but a subuser's place, is enough.
var View = Action{}

// Authorize decides whether p may do act to in, and answers why not.
func Authorize(p Principal, in Instance, act Action) error {
	held := Held(p, in)
	if held == nil {
		return ErrNotFound
	}
	if act.Change && p.ReadOnly {
		return fault.New(fault.Permission, "this token is read-only")
	}
	if act.Need != "" && !slices.Contains(held, act.Need) {
		return fault.New(fault.Permission, "missing permission %q on this instance", act.Need)
	}
	if act.Change && in.Suspended {
		return fault.New(fault.Conflict, "instance is suspended; it can be read and nothing more")
	}
	return nil
}

// CanGrant checks that a principal holding held may give want to a
// subuser: nobody grants more than they hold.
func CanGrant(held, want []Permission) error {
	for _, w := range want {
		if !slices.Contains(held, w) {
			return fault.New(fault.Permission, "cannot grant %q: you do not hold it", w)
		}
	}
	return nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
