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
	if name, ok := uniqueViolation(err); ok {
		field := "userId"
		switch {
		case strings.Contains(name, "username"):
			field = "username"
		case strings.Contains(name, "email"):
			field = "email"
		}
		return &fault.Error{Kind: fault.Exist, Field: field, Msg: "User already exists: " + field + " is taken"}
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	return queryAll(ctx, s, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`+s.bytewise)
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
