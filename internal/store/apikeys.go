package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
)

// APIKey is an admin API key's record. The key itself is never stored: only
// its SHA-256, as KeyHash.
type APIKey struct {
	ID        string
	Name      string
	KeyHash   string
	CreatedAt time.Time
	// RevokedAt is when the key was revoked; zero while it works.
	RevokedAt time.Time
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

// IssueAPIKey makes a new admin API key named name, stores its hash, and
// returns its record and the key itself, which is never seen again.
func (s *Store) IssueAPIKey(ctx context.Context, name string, now time.Time) (APIKey, string, error) {
	key := secret.NewToken("berth_")
	k := APIKey{ID: NewID(8), Name: name, KeyHash: secret.Hash(key), CreatedAt: now.UTC().Truncate(time.Millisecond)}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		return APIKey{}, "", err
	}
	return k, key, nil
}

// ListAPIKeys returns every key, revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	return queryAll(ctx, s, "list api keys", func(row scanner) (APIKey, error) {
		var k APIKey
		var created int64
		var revoked sql.NullInt64
		err := row.Scan(&k.ID, &k.Name, &k.KeyHash, &created, &revoked)
		k.CreatedAt, k.RevokedAt = fromMillis(created), fromMillis(revoked.Int64)
		return k, err
	}, `SELECT id, name, key_hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id`+s.bytewise)
}

// RevokeAPIKey revokes the key id at now: it stops authenticating. An
// unknown id is NotExist; revoking a revoked key changes nothing. The last
// working key is refused (Conflict), so that the panel is never left with
// no way in. On PostgreSQL the live keys are locked first, so that two
// revokes racing for the last two keys cannot both pass the count; SQLite's
// immediate transactions are serialized already.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if s.pg {
			lock = " FOR UPDATE"
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM api_keys WHERE revoked_at IS NULL`+lock))
		if err != nil {
			return err
		}
		live, found := 0, false
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			live++
			found = found || k == id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if !found {
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM api_keys WHERE id = ?`), id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fault.New(fault.NotExist, "API key not found")
			}
			return nil
		}
		if live == 1 {
			return fault.New(fault.Conflict, "this is the last working API key; create another before revoking it")
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = ? WHERE id = ?`), millis(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return nil
}
