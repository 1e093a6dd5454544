package panel

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/access"
)

func sessionOfUser(id, userID string, lastUsed time.Time) resolved {
	return resolved{caller: caller{Principal: access.Principal{Kind: access.Session, CredentialID: id, UserID: userID}},
		lastUsed: lastUsed}
}

func TestCredCacheForgetsWhatEndedAndAReadThatRacedIt(t *testing.T) {
	var c credCache
	now := time.Unix(1700000000, 0)
	key := resolved{caller: caller{Principal: access.Principal{Kind: access.AdminKey, CredentialID: "k1", Admin: true}}}
	_, _, epoch := c.get("h1", now)
	c.put("h1", key, now, epoch)
	if got, ok, _ := c.get("h1", now); !ok || got.CredentialID != "k1" {
		t.Fatalf("cached key = %+v, %v", got, ok)
	}
	// A lookup of h2 reads the database, and its session ends before it
	// caches what it read: the stale answer must not be cached.
	_, _, epoch = c.get("h2", now)
	c.forget(func(c caller) bool { return c.CredentialID == "s2" })
	c.put("h2", sessionOfUser("s2", "u1", now), now, epoch)
	if _, ok, _ := c.get("h2", now); ok {
		t.Error("a session read before it ended was cached after it")
	}
	// Forgetting picks its entries and leaves the others.
	_, _, epoch = c.get("h3", now)
	c.put("h3", sessionOfUser("s3", "u1", now), now, epoch)
	c.put("h4", sessionOfUser("s4", "u2", now), now, epoch)
	c.forget(func(c caller) bool { return c.UserID == "u1" })
	if _, ok, _ := c.get("h3", now); ok {
		t.Error("a forgotten user's session is still cached")
	}
	if _, ok, _ := c.get("h4", now); !ok {
		t.Error("another user's session was forgotten")
	}
	if _, ok, _ := c.get("h1", now); !ok {
		t.Error("an admin key was forgotten with a user")
	}
	c.forget(func(c caller) bool { return c.Kind == access.AdminKey && c.CredentialID == "k1" })
	if _, ok, _ := c.get("h1", now); ok {
		t.Error("a forgotten key is still cached")
	}
	if _, ok, _ := c.get("h4", now.Add(credCacheTTL)); ok {
		t.Error("an entry is served past credCacheTTL")
	}
}

func TestCredCacheLetsOneRequestTouchAStaleEntry(t *testing.T) {
	var c credCache
	now := time.Unix(1700000000, 0)
	_, _, epoch := c.get("h", now)
	c.put("h", sessionOfUser("s", "u", now.Add(-touchEvery+time.Second)), now, epoch)
	if c.claimTouch("h", now) {
		t.Error("a touch was claimed before touchEvery passed")
	}
	now = now.Add(time.Second)
	if !c.claimTouch("h", now) {
		t.Fatal("no touch claimed once touchEvery passed")
	}
	if c.claimTouch("h", now) {
		t.Error("a second request claimed the same touch")
	}
	if got, _, _ := c.get("h", now); !got.lastUsed.Equal(now) {
		t.Errorf("cached last use = %v, want %v: the idle clock must advance", got.lastUsed, now)
	}
	if c.claimTouch("missing", now) {
		t.Error("a touch was claimed for an entry not cached")
	}
}
