package store

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// SSHKey is a public key a user signs in to SFTP with.
type SSHKey struct {
	ID     string
	UserID string
	Name   string
	// PublicKey is the key as one authorized_keys line.
	PublicKey string
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:...").
	Fingerprint string
	CreatedAt   time.Time
}

func scanSSHKey(row scanner) (SSHKey, error) {
	var k SSHKey
	var created int64
	err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.PublicKey, &k.Fingerprint, &created)
	k.CreatedAt = fromMillis(created)
	return k, err
}

// CreateSSHKey stores a user's key. The same key twice for one user is an
// Exist fault naming publicKey.
func (s *Store) CreateSSHKey(ctx context.Context, k SSHKey) error {
	_, err := s.execQuiet(ctx, `INSERT INTO ssh_keys (id, user_id, name, public_key, fingerprint, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, k.ID, k.UserID, k.Name, k.PublicKey, k.Fingerprint, millis(k.CreatedAt))
	if _, ok := uniqueViolation(err); ok {
		return &fault.Error{Kind: fault.Exist, Field: "publicKey", Msg: "publicKey: this key is added already"}
	}
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "User not found")
	}
	if err != nil {
		return fmt.Errorf("create ssh key: %w", err)
	}
	return nil
}

// ListSSHKeys returns a user's keys, oldest first.
func (s *Store) ListSSHKeys(ctx context.Context, userID string) ([]SSHKey, error) {
	return queryAll(ctx, s, "list ssh keys", scanSSHKey, `SELECT id, user_id, name, public_key, fingerprint, created_at
		FROM ssh_keys WHERE user_id = ? ORDER BY created_at, id`+s.bytewise, userID)
}

// DeleteSSHKey deletes one of a user's keys; another user's, or none, is
// NotExist.
func (s *Store) DeleteSSHKey(ctx context.Context, userID, id string) error {
	return s.deleteOwned(ctx, "ssh_keys", "SSH key", userID, id)
}
