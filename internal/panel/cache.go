package panel

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// responseCache keeps encoded answers while the store's Version stays the
// same: reads far outnumber writes. Any write empties it. The whole
// instance list, large, has a cache of its own that a write patches
// rather than empties (listcache.go).
type responseCache struct {
	mu      sync.Mutex
	version uint64
	bodies  map[string][]byte
}

// maxCachedResponses bounds the cache; past it, the cache starts over.
const maxCachedResponses = 4096

// serve answers key from the cache, or calls build and caches its result
// when no write happened while it ran.
func (c *responseCache) serve(w http.ResponseWriter, key string, version func() uint64, build func() (any, error)) error {
	v := version()
	c.mu.Lock()
	body, fresh := c.bodies[key]
	fresh = fresh && c.version == v
	c.mu.Unlock()
	if !fresh {
		data, err := build()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(data); err != nil {
			return err
		}
		body = buf.Bytes()
		c.mu.Lock()
		if c.version != v || c.bodies == nil || len(c.bodies) >= maxCachedResponses {
			c.version, c.bodies = v, make(map[string][]byte)
		}
		if version() == v {
			c.bodies[key] = body
		}
		c.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// credCache remembers, for a few seconds, what a credential resolved to,
// by the SHA-256 of the credential (never the credential): an admin key's
// id, a session's or a token's user, flags and times. A busy client then
// costs no database read per request.
//
// A change made through this panel takes effect at once: whatever changes
// a credential, or the user behind one, forgets the entries it touches
// after its write commits (Server.forgetCredential, Server.forgetUser).
// A change made by another panel on the same database (a logout there, a
// revoked key, a demoted user) is heard through PostgreSQL's LISTEN
// (Server.Changed) and drops the cache; credCacheTTL bounds how long it
// could go unseen if that connection were down.
type credCache struct {
	mu      sync.Mutex
	entries map[string]credEntry
	// epoch counts forgets: a lookup that began before one must not
	// cache what it read, which may be what was just ended.
	epoch uint64
}

type credEntry struct {
	cred resolved
	// until is when the entry ages out, read or not.
	until time.Time
}

// resolved is what a credential's lookup found: the caller it makes, and
// the times its liveness is judged by at each use.
type resolved struct {
	caller
	// lastUsed is a session's last-seen or a token's last-used time, as
	// stored or as this panel last wrote it.
	lastUsed time.Time
	// expires is the absolute expiry; zero for none.
	expires time.Time
}

const (
	// credCacheTTL bounds how long another panel's change to a credential
	// may go unseen here should the change go unheard: a few seconds.
	credCacheTTL = 5 * time.Second
	// credCacheSize bounds the cache; past it, the cache starts over.
	credCacheSize = 8192
)

// get returns the cached credential of hash, and the epoch to hand put
// after a miss.
func (c *credCache) get(hash string, now time.Time) (cred resolved, ok bool, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !now.Before(e.until) {
		return resolved{}, false, c.epoch
	}
	return e.cred, true, c.epoch
}

// put caches hash as cred, unless something was forgotten since the lookup
// that read it began at epoch.
func (c *credCache) put(hash string, cred resolved, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if c.entries == nil || len(c.entries) >= credCacheSize {
		c.entries = make(map[string]credEntry)
	}
	c.entries[hash] = credEntry{cred: cred, until: now.Add(credCacheTTL)}
}

// claimTouch reports whether the caller is the one to write hash's
// last-used time at now: true when the cached time is touchEvery old or
// more, which it then advances to now, so that concurrent requests do
// not all write it.
func (c *credCache) claimTouch(hash string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || now.Sub(e.cred.lastUsed) < touchEvery {
		return false
	}
	e.cred.lastUsed = now
	c.entries[hash] = e
	return true
}

// forget drops every entry that match picks, so that the next use of
// those credentials is read from the database.
func (c *credCache) forget(match func(caller) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for hash, e := range c.entries {
		if match(e.cred.caller) {
			delete(c.entries, hash)
		}
	}
}
