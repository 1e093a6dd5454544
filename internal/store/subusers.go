package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
)

// Subuser is a user granted permissions on an instance it does not own.
type Subuser struct {
	InstanceID  string
	UserID      string
	Permissions []access.Permission
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Username and Email are the user's, joined when read.
	Username string
	Email    string
}

// formatPermissions is how a grant is stored: the names, space-separated.
func formatPermissions(list []access.Permission) string {
	names := make([]string, len(list))
	for i, p := range list {
		names[i] = string(p)
	}
	return strings.Join(names, " ")
}

// parsePermissions reads a stored grant. A name this version does not know
// is a corrupt row, not a grant to ignore.
func parsePermissions(text string) ([]access.Permission, error) {
	list, err := access.ParsePermissions(strings.Fields(text))
	if err != nil {
		return nil, corrupt(err, "stored permissions")
	}
	return list, nil
}

// AddSubuser grants sub.Permissions on sub.InstanceID to sub.UserID. A user
// who already is a subuser of the instance is an Exist fault; an instance
// or a user that does not exist (or no longer does) is NotExist.
func (s *Store) AddSubuser(ctx context.Context, sub Subuser) error {
	_, err := s.exec(ctx, `INSERT INTO subusers (instance_id, user_id, permissions, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)`, sub.InstanceID, sub.UserID, formatPermissions(sub.Permissions),
		millis(sub.CreatedAt), millis(sub.CreatedAt))
	if _, dup := uniqueViolation(err); dup {
		return &fault.Error{Kind: fault.Exist, Field: "user", Msg: "user: is already a subuser of this instance"}
	}
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "instance or user not found")
	}
	if err != nil {
		return fmt.Errorf("add subuser: %w", err)
	}
	return nil
}

// SetSubuserPermissions replaces a subuser's grant. A user who is not a
// subuser of the instance is NotExist.
func (s *Store) SetSubuserPermissions(ctx context.Context, instanceID, userID string, perms []access.Permission, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE subusers SET permissions = ?, updated_at = ? WHERE instance_id = ? AND user_id = ?`,
		formatPermissions(perms), millis(now), instanceID, userID)
	return oneSubuserChanged(res, err, "set subuser permissions")
}

// RemoveSubuser takes every permission on the instance from the user. A
// user who is not a subuser of it is NotExist.
func (s *Store) RemoveSubuser(ctx context.Context, instanceID, userID string) error {
	res, err := s.exec(ctx, `DELETE FROM subusers WHERE instance_id = ? AND user_id = ?`, instanceID, userID)
	return oneSubuserChanged(res, err, "remove subuser")
}

// oneSubuserChanged checks that a write by instance and user changed its
// row.
func oneSubuserChanged(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fault.New(fault.NotExist, "subuser not found")
	}
	return nil
}

// Subusers returns an instance's subusers, by username.
func (s *Store) Subusers(ctx context.Context, instanceID string) ([]Subuser, error) {
	return queryAll(ctx, s, "list subusers", func(row scanner) (Subuser, error) {
		var sub Subuser
		var perms string
		var created, updated int64
		if err := row.Scan(&sub.InstanceID, &sub.UserID, &perms, &created, &updated, &sub.Username, &sub.Email); err != nil {
			return Subuser{}, err
		}
		sub.CreatedAt, sub.UpdatedAt = fromMillis(created), fromMillis(updated)
		var err error
		sub.Permissions, err = parsePermissions(perms)
		return sub, err
	}, `SELECT s.instance_id, s.user_id, s.permissions, s.created_at, s.updated_at, u.username, u.email
		FROM subusers s JOIN users u ON u.id = s.user_id WHERE s.instance_id = ? ORDER BY u.username_key`+s.bytewise, instanceID)
}

// Shared is an instance as a user sees it: Granted is the user's grant
// when it is a subuser of the instance, nil when it is not one.
type Shared struct {
	Instance
	Granted []access.Permission
}

// grantScanner scans an instance row followed by the user's grant, NULL
// when the user is not a subuser.
type grantScanner struct {
	scanner
	perms *sql.NullString
}

func (g grantScanner) Scan(dest ...any) error { return g.scanner.Scan(append(dest, g.perms)...) }

func scanShared(row scanner) (Shared, error) {
	var perms sql.NullString
	in, err := scanInstance(grantScanner{row, &perms})
	if err != nil {
		return Shared{}, err
	}
	sh := Shared{Instance: in}
	if perms.Valid {
		if sh.Granted, err = parsePermissions(perms.String); err != nil {
			return Shared{}, err
		}
	}
	return sh, nil
}

// sharedFrom joins an instance to the grant of the user given as the
// first argument.
const sharedFrom = instanceFrom + ` LEFT JOIN subusers s ON s.instance_id = i.id AND s.user_id = ?`

// InstanceForUser returns an instance with the user's grant on it, in one
// read: what the authorizer needs.
func (s *Store) InstanceForUser(ctx context.Context, id, userID string) (Shared, error) {
	sh, err := scanShared(s.queryRow(ctx, `SELECT `+instanceColumns+`, s.permissions`+sharedFrom+` WHERE i.id = ?`, userID, id))
	if err != nil {
		return Shared{}, notFound(err, "Instance")
	}
	return sh, nil
}

// InstancesOfUser returns the instances a user owns or is a subuser of,
// oldest first, each with the user's grant.
func (s *Store) InstancesOfUser(ctx context.Context, userID string) ([]Shared, error) {
	return s.SharedPage(ctx, userID, Page{})
}

// InstanceCard is the part of an instance that a list of them shows: what
// the web UI's instance list reads, without the rest of the row.
type InstanceCard struct {
	ID, Name, UserID, Status string
	MemoryMiB                int64
	CPU                      float64
	// PrimaryHost is the primary binding's host port.
	PrimaryHost int
	Node        NodeSummary
	// Granted is the user's grant when it is a subuser; nil otherwise.
	Granted []access.Permission
}

// InstanceCardsOfUser returns the cards of the instances a user owns or is
// a subuser of, oldest first: InstancesOfUser's rows, read lighter.
func (s *Store) InstanceCardsOfUser(ctx context.Context, userID string) ([]InstanceCard, error) {
	return queryAll(ctx, s, "list instance cards of user", scanCard, `SELECT i.id, i.name, i.user_id, i.status,
		i.memory_mib, i.cpu, i.primary_port, i.node_id, n.name, n.address, n.port, n.status, s.permissions`+sharedFrom+`
		WHERE i.user_id = ? OR s.user_id IS NOT NULL ORDER BY i.created_at, i.id`+s.bytewise, userID, userID)
}

func scanCard(row scanner) (InstanceCard, error) {
	var c InstanceCard
	var perms sql.NullString
	err := row.Scan(&c.ID, &c.Name, &c.UserID, &c.Status, &c.MemoryMiB, &c.CPU, &c.PrimaryHost,
		&c.Node.ID, &c.Node.Name, &c.Node.Address, &c.Node.Port, &c.Node.Status, &perms)
	if err != nil {
		return c, err
	}
	if perms.Valid {
		if c.Granted, err = parsePermissions(perms.String); err != nil {
			return InstanceCard{}, err
		}
	}
	return c, nil
}

// Card is in's card, with granted, the user's grant on it.
func (in Instance) Card(granted []access.Permission) InstanceCard {
	return InstanceCard{ID: in.ID, Name: in.Name, UserID: in.UserID, Status: in.Status, MemoryMiB: in.MemoryMiB,
		CPU: in.CPU, PrimaryHost: in.Primary.Host, Node: in.Node, Granted: granted}
}
