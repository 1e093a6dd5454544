package store

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// AccessToken is a user's personal access token. The token itself is
// never stored: only its SHA-256, as TokenHash.
type AccessToken struct {
	ID        string
	UserID    string
	Name      string
	TokenHash string
	// ReadOnly tokens may read and never change anything.
	ReadOnly bool
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt  time.Time
	LastUsedAt time.Time
	CreatedAt  time.Time
	// Holder is read with the token by AccessTokenByHash.
	Holder Holder
}

const tokenColumns = `c.id, c.user_id, c.name, c.token_hash, c.read_only, c.expires_at, c.last_used_at, c.created_at, ` + holderColumns

func scanAccessToken(row scanner) (AccessToken, error) {
	var t AccessToken
	var readOnly, admin, twoFactor int
	var expires, used, created int64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.TokenHash, &readOnly, &expires, &used, &created,
		&admin, &twoFactor); err != nil {
		return AccessToken{}, err
	}
	t.ReadOnly = readOnly != 0
	t.ExpiresAt, t.LastUsedAt, t.CreatedAt = fromMillis(expires), fromMillis(used), fromMillis(created)
	t.Holder = Holder{Admin: admin != 0, TwoFactor: twoFactor != 0}
	return t, nil
}

// CreateAccessToken stores a token of an existing user by its hash.
func (s *Store) CreateAccessToken(ctx context.Context, t AccessToken) error {
	var expires int64
	if !t.ExpiresAt.IsZero() {
		expires = millis(t.ExpiresAt)
	}
	_, err := s.execQuiet(ctx, `INSERT INTO access_tokens (id, user_id, name, token_hash, read_only, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.UserID, t.Name, t.TokenHash, boolInt(t.ReadOnly), expires, millis(t.CreatedAt))
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "User not found")
	}
	if err != nil {
		return fmt.Errorf("create access token: %w", err)
	}
	return nil
}

// AccessTokenByHash returns the token that hashes to hash, expired or
// not: the caller judges expiry by its own clock.
func (s *Store) AccessTokenByHash(ctx context.Context, hash string) (AccessToken, error) {
	t, err := scanAccessToken(s.queryRow(ctx, `SELECT `+tokenColumns+` FROM access_tokens c`+holderJoin+` WHERE c.token_hash = ?`, hash))
	if err != nil {
		return AccessToken{}, notFound(err, "access token")
	}
	return t, nil
}

// TouchAccessToken records that the token was used at at.
func (s *Store) TouchAccessToken(ctx context.Context, id string, at time.Time) error {
	if _, err := s.execQuiet(ctx, `UPDATE access_tokens SET last_used_at = ? WHERE id = ?`, millis(at), id); err != nil {
		return fmt.Errorf("touch access token: %w", err)
	}
	return nil
}

// ListAccessTokens returns a user's tokens, newest first.
func (s *Store) ListAccessTokens(ctx context.Context, userID string) ([]AccessToken, error) {
	return queryAll(ctx, s, "list access tokens", scanAccessToken, `SELECT `+tokenColumns+` FROM access_tokens c`+holderJoin+`
		WHERE c.user_id = ? ORDER BY c.created_at DESC, c.id`+s.bytewise, userID)
}

// DeleteAccessToken deletes one of a user's tokens; another user's, or
// none, is NotExist.
func (s *Store) DeleteAccessToken(ctx context.Context, userID, id string) error {
	return s.deleteOwned(ctx, "access_tokens", "access token", userID, id)
}
