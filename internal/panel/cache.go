package panel

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// responseCache keeps encoded answers while the store's Version stays the
// same: reads far outnumber writes, and the instance list is large. Any
// write empties it.
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

// keyCache remembers, briefly, which API key hashes are valid, so that a
// busy client does not cost a database read per request. An entry lives
// keyCacheTTL at most: a revoked key stops working within that time.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]keyCacheEntry
}

type keyCacheEntry struct {
	id      string
	expires time.Time
}

const (
	keyCacheTTL  = 10 * time.Second
	keyCacheSize = 1024
)

func (c *keyCache) get(hash string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || now.After(e.expires) {
		return "", false
	}
	return e.id, true
}

func (c *keyCache) put(hash, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= keyCacheSize {
		c.entries = make(map[string]keyCacheEntry)
	}
	c.entries[hash] = keyCacheEntry{id: id, expires: now.Add(keyCacheTTL)}
}
