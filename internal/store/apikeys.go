package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"time"
)

// APIKey is an admin API key's record. The key itself is never stored: only
// its SHA-256, as KeyHash.
type APIKey struct {
	ID        string
	Name      string
	KeyHash   string
	CreatedAt time.Time
}

// CreateAPIKey stores a key by its hash.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey) error {
	_, err := s.exec(ctx, `INSERT INTO api_keys (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)`,
		k.ID, k.Name, k.KeyHash, millis(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// APIKeyByHash returns the unrevoked key whose SHA-256 is hash. The index
// finds the row; the final comparison is constant-time all the same, so
// the answer's timing says nothing about how close a guess came.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (APIKey, error) {
	var k APIKey
	var created int64
	err := s.queryRow(ctx, `SELECT id, name, key_hash, created_at FROM api_keys
		WHERE key_hash = ? AND revoked_at IS NULL`, hash).Scan(&k.ID, &k.Name, &k.KeyHash, &created)
	if err != nil {
		return APIKey{}, notFound(err, "API key")
	}
	if subtle.ConstantTimeCompare([]byte(k.KeyHash), []byte(hash)) != 1 {
		return APIKey{}, notFound(sql.ErrNoRows, "API key")
	}
	k.CreatedAt = fromMillis(created)
	return k, nil
}

// HasAPIKeys reports whether any unrevoked key exists.
func (s *Store) HasAPIKeys(ctx context.Context) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return false, fmt.Errorf("count api keys: %w", err)
	}
	return n > 0, nil
}
