package panel

import (
	"testing"
	"time"
)

func TestKeyCacheForgetsARevokedKeyAndAReadThatRacedIt(t *testing.T) {
	var c keyCache
	now := time.Unix(1700000000, 0)
	_, _, epoch := c.get("h1", now)
	c.put("h1", "k1", now, epoch)
	if id, ok, _ := c.get("h1", now); !ok || id != "k1" {
		t.Fatalf("cached key = %q, %v", id, ok)
	}
	// A lookup of h2 reads the database, and k2 is revoked before it
	// caches what it read: the stale answer must not be cached.
	_, _, epoch = c.get("h2", now)
	c.forget("k2")
	c.put("h2", "k2", now, epoch)
	if _, ok, _ := c.get("h2", now); ok {
		t.Error("a key read before its revoke was cached after it")
	}
	c.forget("k1")
	if _, ok, _ := c.get("h1", now); ok {
		t.Error("a forgotten key is still cached")
	}
	_, _, epoch = c.get("h1", now)
	c.put("h1", "k1", now, epoch)
	if _, ok, _ := c.get("h1", now.Add(keyCacheTTL+time.Second)); ok {
		t.Error("an expired entry is served")
	}
}
