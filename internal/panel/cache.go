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
// keyCacheTTL at most; a key revoked through this panel is forgotten at
// once.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]keyCacheEntry
	// epoch counts forgets: a lookup that began before one must not
	// cache what it read, which may be the key just revoked.
	epoch uint64
}

type keyCacheEntry struct {
	id      string
	expires time.Time
}

const (
	keyCacheTTL  = 10 * time.Second
	keyCacheSize = 1024
)

// get returns the cached key id of hash, and the epoch to hand put after a
// miss.
func (c *keyCache) get(hash string, now time.Time) (id string, ok bool, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || now.After(e.expires) {
		return "", false, c.epoch
	}
	return e.id, true, c.epoch
}

// put caches hash as key id, unless a key was forgotten since the lookup
// that read it began at epoch.
func (c *keyCache) put(hash, id string, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if c.entries == nil || len(c.entries) >= keyCacheSize {
		c.entries = make(map[string]keyCacheEntry)
	}
	c.entries[hash] = keyCacheEntry{id: id, expires: now.Add(keyCacheTTL)}
}

// forget drops the key id from the cache, so that its next use is read
// from the database.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for hash, e := range c.entries {
		if e.id == id {
			delete(c.entries, hash)
		}
	}
}
