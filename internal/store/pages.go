package store

import (
	"context"
	"fmt"
	"strings"
)

// Lists are read a page at a time, by keyset: each list has a fixed order
// on a unique sort key, and a page is the rows after the last row of the
// previous one. Unlike OFFSET, a page costs the same deep in the list as
// at its start, and rows inserted or deleted between two pages neither
// repeat nor skip the rows that were there throughout.

// Page selects part of a list in the list's order: the rows after After
// (from the first when After is zero), at most Limit of them (all when
// Limit is 0).
type Page struct {
	Limit int
	After Cursor
}

// Cursor is a row's sort key in its list: its creation time in Unix
// milliseconds and its id, or for a list ordered by name alone (the
// templates), At 0 and the name's key.
type Cursor struct {
	At  int64
	Key string
}

// IsZero reports whether c names no row: a page from the start.
func (c Cursor) IsZero() bool { return c.Key == "" }

// Cursor is the instance's place in the lists of instances.
func (in Instance) Cursor() Cursor { return Cursor{At: millis(in.CreatedAt), Key: in.ID} }

// Cursor is the user's place in the list of users.
func (u User) Cursor() Cursor { return Cursor{At: millis(u.CreatedAt), Key: u.ID} }

// Cursor is the node's place in the list of nodes.
func (n Node) Cursor() Cursor { return Cursor{At: millis(n.CreatedAt), Key: n.ID} }

// Cursor is the template's place in the list of templates, which is by
// name, ignoring case.
func (t Template) Cursor() Cursor { return Cursor{Key: foldKey(t.Name)} }

// pageQuery completes the statement selectFrom (SELECT ... FROM ...
// without WHERE) with the conditions where, each joined by AND, and the
// keyset of p on the sort key (atCol, keyCol): keyCol alone when atCol is
// empty. keyCol compares bytewise on both databases, the same order as
// the ORDER BY it adds. Any list of the store pages through it; the args
// of where come first.
func (s *Store) pageQuery(selectFrom string, where []string, args []any, p Page, atCol, keyCol string) (string, []any) {
	return s.orderedPageQuery(selectFrom, where, args, p, atCol, keyCol, false)
}

// orderedPageQuery is pageQuery in the order newest first (the last sort
// key first) when desc is set: the backups' order.
func (s *Store) orderedPageQuery(selectFrom string, where []string, args []any, p Page, atCol, keyCol string, desc bool) (string, []any) {
	key := keyCol + s.bytewise
	after, dir := " > ", ""
	if desc {
		after, dir = " < ", " DESC"
	}
	if !p.After.IsZero() {
		if atCol == "" {
			where = append(where, key+after+"?")
			args = append(args, p.After.Key)
		} else {
			// The bound on atCol alone lets the index on (atCol, keyCol)
			// seek to the page's start rather than scan up to it.
			bound := " >= "
			if desc {
				bound = " <= "
			}
			where = append(where, atCol+bound+"? AND ("+atCol+after+"? OR "+key+after+"?)")
			args = append(args, p.After.At, p.After.At, p.After.Key)
		}
	}
	var b strings.Builder
	b.WriteString(selectFrom)
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY ")
	if atCol != "" {
		b.WriteString(atCol + dir + ", ")
	}
	b.WriteString(key + dir)
	if p.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, p.Limit)
	}
	return b.String(), args
}

// StatusOffline is the power status the API shows for an instance whose
// node is offline, or that is not running anywhere.
const StatusOffline = "offline"

// InstanceFilter selects instances; zero fields select all.
type InstanceFilter struct {
	NodeID string
	UserID string
	// State is an InternalState: INSTALLING, READY or FAILED.
	State string
	// Status is a power status as the API shows it, such as running: an
	// instance on an offline node is "offline" whatever it last reported.
	Status string
	// NamePrefix keeps the instances whose name starts with it, case
	// and all.
	NamePrefix string
}

// InstancePage returns the page p of the instances f selects, oldest
// first.
func (s *Store) InstancePage(ctx context.Context, f InstanceFilter, p Page) ([]Instance, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{
		{"i.node_id", f.NodeID}, {"i.user_id", f.UserID}, {"i.internal_state", f.State},
	} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	switch {
	case f.Status == StatusOffline:
		where, args = append(where, "(i.status = ? OR n.status = ?)"), append(args, f.Status, NodeOffline)
	case f.Status != "":
		where, args = append(where, "i.status = ? AND n.status <> ?"), append(args, f.Status, NodeOffline)
	}
	if f.NamePrefix != "" {
		w, a := s.prefixRange("i.name", f.NamePrefix)
		where, args = append(where, w), append(args, a...)
	}
	query, args := s.pageQuery(`SELECT `+instanceColumns+instanceFrom, where, args, p, "i.created_at", "i.id")
	return queryAll(ctx, s, "list instances", scanInstance, query, args...)
}

// SharedPage returns the page p of the instances userID owns or is a
// subuser of, oldest first, each with the user's grant: InstancesOfUser a
// page at a time.
func (s *Store) SharedPage(ctx context.Context, userID string, p Page) ([]Shared, error) {
	query, args := s.pageQuery(`SELECT `+instanceColumns+`, s.permissions`+sharedFrom,
		[]string{"(i.user_id = ? OR s.user_id IS NOT NULL)"}, []any{userID, userID}, p, "i.created_at", "i.id")
	return queryAll(ctx, s, "list instances of user", scanShared, query, args...)
}

// UserFilter selects users; a zero one selects all.
type UserFilter struct {
	// NamePrefix keeps the users whose username or email starts with it,
	// ignoring case.
	NamePrefix string
}

// UserPage returns the page p of the users f selects, oldest first.
func (s *Store) UserPage(ctx context.Context, f UserFilter, p Page) ([]User, error) {
	var where []string
	var args []any
	if f.NamePrefix != "" {
		// The folded keys are what the unique indexes hold, so each half
		// of the OR is a range scan of one of them.
		wu, au := s.prefixRange("username_key", foldKey(f.NamePrefix))
		we, ae := s.prefixRange("email_key", foldKey(f.NamePrefix))
		where, args = append(where, "("+wu+" OR "+we+")"), append(au, ae...)
	}
	query, args := s.pageQuery(`SELECT `+userColumns+` FROM users`, where, args, p, "created_at", "id")
	return queryAll(ctx, s, "list users", scanUser, query, args...)
}

// NodePage returns the page p of the nodes, oldest first.
func (s *Store) NodePage(ctx context.Context, p Page) ([]Node, error) {
	query, args := s.pageQuery(`SELECT `+nodeColumns+` FROM nodes`, nil, nil, p, "created_at", "id")
	return queryAll(ctx, s, "list nodes", scanNode, query, args...)
}

// TemplatePage returns the page p of the templates, by name.
func (s *Store) TemplatePage(ctx context.Context, p Page) ([]Template, error) {
	query, args := s.pageQuery(`SELECT `+templateColumns+` FROM templates`, nil, nil, p, "", "name_key")
	return queryAll(ctx, s, "list templates", scanTemplate, query, args...)
}

// prefixRange is the condition that col starts with prefix, written as a
// range of the bytewise order so that an index on col serves it, where
// LIKE would depend on the database's case rules and collation.
func (s *Store) prefixRange(col, prefix string) (string, []any) {
	col += s.bytewise
	if end, ok := prefixEnd(prefix); ok {
		return "(" + col + " >= ? AND " + col + " < ?)", []any{prefix, end}
	}
	return col + " >= ?", []any{prefix}
}

// prefixEnd is the least string, in bytewise (code point) order, above
// every string that starts with prefix: prefix with its last character
// raised by one, past the surrogates; false when there is none, for a
// prefix of only the last code point.
func prefixEnd(prefix string) (string, bool) {
	r := []rune(prefix)
	for i := len(r) - 1; i >= 0; i-- {
		switch {
		case r[i] == 0x10FFFF:
			continue
		case r[i] == 0xD7FF:
			r[i] = 0xE000
		default:
			r[i]++
		}
		return string(r[:i+1]), true
	}
	return "", false
}

// CountInstances returns how many instances there are.
func (s *Store) CountInstances(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM instances`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return n, nil
}
