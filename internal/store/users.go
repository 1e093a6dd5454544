package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// User is an account. PasswordHash is an argon2id PHC string and never
// leaves the panel.
type User struct {
	ID           string
	Username     string
	Email        string
	PasswordHash string
	Admin        bool
	CreatedAt    time.Time
}

// foldKey is the case-insensitive form under which usernames and emails are
// unique.
func foldKey(s string) string { return strings.ToLower(s) }

const userColumns = `id, username, email, password_hash, admin, created_at`

func scanUser(row scanner) (User, error) {
	var u User
	var admin int
	var created int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &admin, &created); err != nil {
		return User{}, err
	}
	u.Admin = admin != 0
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// CreateUser stores u. A username, email or ID that is already taken
// (usernames and emails compared case-insensitively) gives an Exist fault
// naming the field; the unique indexes decide, so concurrent creates of one
// name cannot both succeed.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	_, err := s.exec(ctx, `INSERT INTO users (id, username, username_key, email, email_key, password_hash, admin, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, foldKey(u.Username), u.Email, foldKey(u.Email), u.PasswordHash, boolInt(u.Admin), millis(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("create user: %w", userTaken(err))
	}
	return nil
}

// userTaken turns a unique-index violation on users into an Exist fault
// naming the field that is taken; other errors pass through.
func userTaken(err error) error {
	name, ok := uniqueViolation(err)
	if !ok {
		return err
	}
	field := "userId"
	switch {
	case strings.Contains(name, "username"):
		field = "username"
	case strings.Contains(name, "email"):
		field = "email"
	}
	return &fault.Error{Kind: fault.Exist, Field: field, Msg: "User already exists: " + field + " is taken"}
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	return s.UserPage(ctx, UserFilter{}, Page{})
}

// UserByID returns the user with that userId.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	return s.userWhere(ctx, "id = ?", id)
}

// UserByUsername finds a user by username, ignoring case.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	return s.userWhere(ctx, "username_key = ?", foldKey(username))
}

// UserByEmail finds a user by email, ignoring case.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.userWhere(ctx, "email_key = ?", foldKey(email))
}

func (s *Store) userWhere(ctx context.Context, cond string, arg any) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+cond, arg))
	if err != nil {
		return User{}, notFound(err, "User")
	}
	return u, nil
}

// userExists reports whether userId names a user, inside tx.
func userExists(ctx context.Context, s *Store, tx *sql.Tx, id string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM users WHERE id = ?`), id).Scan(&n)
	return n > 0, err
}

// UserChange is a partial update of a user: nil fields stay as they are.
type UserChange struct {
	Username     *string
	Email        *string
	PasswordHash *string
	Admin        *bool
}

// UpdateUser applies ch to the user id and returns the user as it now is.
// A taken username or email is an Exist fault naming the field, decided by
// the unique indexes as in CreateUser; an unknown id is NotExist. A new
// password also ends the user's sessions, in the same transaction, so that
// whoever knew the old one is signed out.
func (s *Store) UpdateUser(ctx context.Context, id string, ch UserChange) (User, error) {
	var u User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
		if err != nil {
			return notFound(err, "User")
		}
		if ch.Username != nil {
			u.Username = *ch.Username
		}
		if ch.Email != nil {
			u.Email = *ch.Email
		}
		if ch.PasswordHash != nil {
			u.PasswordHash = *ch.PasswordHash
		}
		if ch.Admin != nil {
			u.Admin = *ch.Admin
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE users SET username = ?, username_key = ?, email = ?, email_key = ?,
			password_hash = ?, admin = ? WHERE id = ?`),
			u.Username, foldKey(u.Username), u.Email, foldKey(u.Email), u.PasswordHash, boolInt(u.Admin), id)
		if err != nil {
			return userTaken(err)
		}
		if ch.PasswordHash != nil {
			return endUserSessions(ctx, s, tx, id)
		}
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}

// endUserSessions signs the user out everywhere, inside tx.
func endUserSessions(ctx context.Context, s *Store, tx *sql.Tx, userID string) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("end the sessions of %s: %w", userID, err)
	}
	return nil
}

// DeleteUser removes the user id. A user who still owns instances is a
// Conflict: their instances would be orphaned. The count gives the
// message; the instances' foreign key decides, so that a deploy racing the
// delete cannot slip in between.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var owned int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM instances WHERE user_id = ?`), id).Scan(&owned); err != nil {
			return err
		}
		if owned > 0 {
			return fault.New(fault.Conflict, "user owns %d instance(s); delete them or give them to another user first", owned)
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id)
		if foreignKeyViolation(err) {
			return fault.New(fault.Conflict, "user still owns instances")
		}
		if err != nil {
			return err
		}
		n, err := rowsChanged(res)
		if err == nil && n == 0 {
			err = fault.New(fault.NotExist, "User not found")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}
