package panel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// Idempotent creates. A client that sends a creating POST with an
// Idempotency-Key header and loses the answer (a timeout, a panel
// restart) sends it again with the same key and gets the same answer: the
// same instance or user, not a second one. The key is kept a day, per
// credential; the same key with a different body is a 409 naming the
// header. Of two requests with one key at once, one creates and the other
// gets its answer (deploy, whose record shares the create's transaction)
// or a 409 saying the first is still running (the other routes).
const (
	idempotencyHeader = "Idempotency-Key"
	// replayedHeader marks an answer given again from a key's record.
	replayedHeader = "Idempotent-Replayed"
	// idempotencyTTL is how long a key's answer is kept.
	idempotencyTTL = 24 * time.Hour
	// maxIdempotencyKey is the longest key accepted.
	maxIdempotencyKey = 255
	// purgeEvery is how often a keyed request may purge expired keys.
	purgeEvery = time.Minute
)

// idempotencyKeyOf reads r's Idempotency-Key; nil when the request has
// none. The key's route is the pattern r matched. The body's hash ignores field order and spacing, and
// leaves out a password, which must not be kept even hashed.
func (s *Server) idempotencyKeyOf(r *http.Request, b body) (*store.IdempotencyKey, error) {
	values := r.Header.Values(idempotencyHeader)
	if len(values) == 0 {
		return nil, nil
	}
	key := values[0]
	if len(values) > 1 || key == "" || len(key) > maxIdempotencyKey || !printableASCII(key) {
		return nil, fault.InvalidField(idempotencyHeader, "must be one value of 1 to %d printable ASCII characters", maxIdempotencyKey)
	}
	hashed := body{}
	for name, v := range b {
		if name != "password" {
			hashed[name] = v
		}
	}
	canonical, err := json.Marshal(hashed)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	p := callerOf(r)
	s.purgeIdempotencyKeys(r.Context())
	return &store.IdempotencyKey{Credential: p.Kind.String() + ":" + p.CredentialID, Key: key, Route: r.Pattern,
		BodyHash: hex.EncodeToString(sum[:])}, nil
}

func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// purgeIdempotencyKeys forgets the keys older than a day, at most once a
// minute per process.
func (s *Server) purgeIdempotencyKeys(ctx context.Context) {
	now := time.Now()
	last := s.idempotencyPurged.Load()
	if now.UnixNano()-last < int64(purgeEvery) || !s.idempotencyPurged.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := s.store.PurgeIdempotencyKeys(ctx, now.Add(-idempotencyTTL)); err != nil {
		s.log.Error("purge idempotency keys", "err", err)
	}
}

// idempotentRecord returns the live record of key, or false when there is
// none (or only an expired one, which is purged).
func (s *Server) idempotentRecord(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, bool, error) {
	rec, err := s.store.IdempotencyRecordOf(ctx, key.Credential, key.Key)
	if fault.Is(err, fault.NotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if time.Since(rec.CreatedAt) > idempotencyTTL {
		_, err := s.store.PurgeIdempotencyKeys(ctx, time.Now().Add(-idempotencyTTL))
		return rec, false, err
	}
	if rec.Route != key.Route || rec.BodyHash != key.BodyHash {
		return rec, true, errKeyReused()
	}
	return rec, true, nil
}

// errKeyReused refuses a key sent again with another request.
func errKeyReused() error {
	return fault.New(fault.Conflict, "%s: this key was used with another request; send a new key for a new request", idempotencyHeader)
}

// replay answers again what rec recorded.
func replay(w http.ResponseWriter, rec store.IdempotencyRecord) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(replayedHeader, "true")
	w.WriteHeader(rec.Status)
	w.Write(rec.Answer)
}

// saveAnswer keeps the answer to key's request for its retries. A failure
// is logged, not answered: the create is done, and a retry still finds
// what it created through the record's resource.
func (s *Server) saveAnswer(r *http.Request, key store.IdempotencyKey, status int, v any) {
	answer, err := json.Marshal(v)
	if err == nil {
		err = s.store.SaveIdempotentAnswer(context.WithoutCancel(r.Context()), key, status, answer)
	}
	if err != nil {
		s.logError(r, "save idempotent answer", err)
	}
}

// idempotent wraps a creating handler whose create cannot share a
// transaction with the key's record: the key is claimed before h runs, h's
// answer is kept when it succeeds, and the claim is released when it does
// not, so that the client may correct its request and use the key again.
// A panel stopped between h's create and the save leaves the claim
// unanswered; its retries get a 409 until the key expires.
func (s *Server) idempotent(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if len(r.Header.Values(idempotencyHeader)) == 0 {
			return h(w, r)
		}
		raw, err := io.ReadAll(r.Body)
		if errors.As(err, new(*http.MaxBytesError)) {
			return errTooLarge
		}
		if err != nil {
			return fault.InvalidField("body", "could not be read")
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		key, err := s.idempotencyKeyOf(r, b)
		if err != nil {
			return err
		}
		if _, found, err := s.idempotentRecord(r.Context(), *key); err != nil || found {
			if err == nil {
				err = s.replayClaimed(w, r, *key)
			}
			return err
		}
		rec, claimed, err := s.store.ClaimIdempotencyKey(r.Context(), *key)
		if err != nil {
			return err
		}
		if !claimed {
			if rec.Route != key.Route || rec.BodyHash != key.BodyHash {
				return errKeyReused()
			}
			return s.replayClaimed(w, r, *key)
		}
		capture := &capturedAnswer{header: http.Header{}}
		err = h(capture, r)
		if err != nil || capture.status < 200 || capture.status > 299 {
			if rerr := s.store.ReleaseIdempotencyKey(context.WithoutCancel(r.Context()), *key); rerr != nil {
				s.logError(r, "release idempotency key", rerr)
			}
		} else if serr := s.store.SaveIdempotentAnswer(context.WithoutCancel(r.Context()), *key, capture.status, capture.body.Bytes()); serr != nil {
			s.logError(r, "save idempotent answer", serr)
		}
		if err != nil {
			return err
		}
		for name, v := range capture.header {
			w.Header()[name] = v
		}
		w.WriteHeader(capture.status)
		w.Write(capture.body.Bytes())
		return nil
	}
}

// replayClaimed answers a retry of a claimed key: the kept answer, or a
// 409 while the first request runs (or if it never recorded its answer).
func (s *Server) replayClaimed(w http.ResponseWriter, r *http.Request, key store.IdempotencyKey) error {
	rec, err := s.store.IdempotencyRecordOf(r.Context(), key.Credential, key.Key)
	if err != nil {
		return err
	}
	if rec.Status == 0 {
		return fault.New(fault.Conflict, "%s: a request with this key is still running; retry it shortly", idempotencyHeader)
	}
	replay(w, rec)
	return nil
}

// capturedAnswer holds a handler's answer, so that it can be kept before
// it is sent.
type capturedAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capturedAnswer) Header() http.Header { return c.header }

func (c *capturedAnswer) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *capturedAnswer) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}
