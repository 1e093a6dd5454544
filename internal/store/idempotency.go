package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// IdempotencyKey names one creating request sent with an Idempotency-Key
// header: the key as the client wrote it, the credential that sent it (a
// key is never shared between credentials), the route, and a hash of the
// body, which tells a retry from a different request reusing the key.
type IdempotencyKey struct {
	Credential string
	Key        string
	Route      string
	BodyHash   string
}

// IdempotencyRecord is what is kept of a key: the request it came with,
// the row it created, and the answer once it was given. A record with a
// resource but no answer belongs to a create whose answer was never
// recorded (the panel stopped in between); Status 0 with no resource is a
// request still running.
type IdempotencyRecord struct {
	IdempotencyKey
	ResourceID string
	Status     int
	Answer     []byte
	CreatedAt  time.Time
}

// ErrIdempotencyKeyTaken is returned when a key already has a record:
// another request with the same key got there first.
var ErrIdempotencyKeyTaken = errors.New("idempotency key already used")

// recordIdempotencyKey writes key's record, naming the resource being
// created, inside the creating transaction.
func (s *Store) recordIdempotencyKey(ctx context.Context, tx *sql.Tx, key IdempotencyKey, resourceID string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO idempotency_keys (credential, idem_key, route, body_hash, resource_id,
		created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		key.Credential, key.Key, key.Route, key.BodyHash, resourceID, millis(time.Now()))
	if _, dup := uniqueViolation(err); dup {
		return ErrIdempotencyKeyTaken
	}
	return err
}

// ClaimIdempotencyKey records key for a request about to run whose create
// cannot share its transaction with the record. It reports true when this
// request claimed the key; otherwise it returns the record already there.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, key IdempotencyKey) (IdempotencyRecord, bool, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error { return s.recordIdempotencyKey(ctx, tx, key, "") })
	if err == nil {
		return IdempotencyRecord{IdempotencyKey: key}, true, nil
	}
	if !errors.Is(err, ErrIdempotencyKeyTaken) {
		return IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	rec, err := s.IdempotencyRecordOf(ctx, key.Credential, key.Key)
	return rec, false, err
}

// IdempotencyRecordOf returns the record of a credential's key, or a
// NotExist fault.
func (s *Store) IdempotencyRecordOf(ctx context.Context, credential, key string) (IdempotencyRecord, error) {
	var rec IdempotencyRecord
	var answer string
	var created int64
	err := s.queryRow(ctx, `SELECT credential, idem_key, route, body_hash, resource_id, status, answer, created_at
		FROM idempotency_keys WHERE credential = ? AND idem_key = ?`, credential, key).
		Scan(&rec.Credential, &rec.Key, &rec.Route, &rec.BodyHash, &rec.ResourceID, &rec.Status, &answer, &created)
	if err != nil {
		return IdempotencyRecord{}, notFound(err, "Idempotency key")
	}
	rec.Answer, rec.CreatedAt = []byte(answer), fromMillis(created)
	return rec, nil
}

// SaveIdempotentAnswer keeps the answer given to key's request, for its
// retries.
func (s *Store) SaveIdempotentAnswer(ctx context.Context, key IdempotencyKey, status int, answer []byte) error {
	_, err := s.execQuiet(ctx, `UPDATE idempotency_keys SET status = ?, answer = ? WHERE credential = ? AND idem_key = ?`,
		status, string(answer), key.Credential, key.Key)
	if err != nil {
		return fmt.Errorf("save idempotent answer: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a claimed key whose request created
// nothing, so that the client may try again with it.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key IdempotencyKey) error {
	_, err := s.execQuiet(ctx, `DELETE FROM idempotency_keys WHERE credential = ? AND idem_key = ? AND resource_id = ''`,
		key.Credential, key.Key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys forgets the keys recorded before cutoff and reports
// how many went.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.execQuiet(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, millis(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return rowsChanged(res)
}
