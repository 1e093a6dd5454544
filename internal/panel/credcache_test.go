package panel_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
)

// The panel caches what a session or token resolved to for a few seconds.
// These tests use each credential first, so that it is cached, and keep
// the clock still (or move it by less than the cache's lifetime), so that
// only the change itself can end what was cached.

func TestAdminPatchOfAPasswordEndsTheSessionsAtOnce(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	session := cred{cookie: p.signIn("ann", "")}
	token := cred{token: p.newToken(session.cookie, map[string]any{"name": "t"})}
	p.expectAs(200, session, "GET", "/api/client/account", nil)
	p.expectAs(200, token, "GET", "/api/client/account", nil)
	p.expect(200, "PATCH", "/api/users/"+id, map[string]any{"username": "anna"})
	p.expectAs(200, session, "GET", "/api/client/account", nil)
	p.expect(200, "PATCH", "/api/users/"+id, map[string]any{"password": "an admin's new password"})
	p.expectAs(401, session, "GET", "/api/client/account", nil)
	// A token is not a sign-in: a new password leaves it, as the user's
	// own change does.
	p.expectAs(200, token, "GET", "/api/client/account", nil)
}

func TestDeletedUsersSessionsAndTokensStopAtOnce(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	session := cred{cookie: p.signIn("ann", "")}
	token := cred{token: p.newToken(session.cookie, map[string]any{"name": "t"})}
	for _, c := range []cred{session, token} {
		p.expectAs(200, c, "GET", "/api/client/account", nil)
	}
	p.expect(204, "DELETE", "/api/users/"+id, nil)
	for _, c := range []cred{session, token} {
		p.expectAs(401, c, "GET", "/api/client/account", nil)
	}
}

func TestTwoFactorChangesTakeEffectAtOnceForRequire2FAAdmins(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{Require2FAAdmins: true})
	id := p.addUser("root", true)
	session := cred{cookie: p.signIn("root", "")}
	p.expectAs(403, session, "GET", "/api/users", nil)
	p.enableTwoFactor(clock, session.cookie)
	p.expectAs(200, session, "GET", "/api/users", nil)
	token := cred{token: p.newToken(session.cookie, map[string]any{"name": "t"})}
	p.expectAs(200, token, "GET", "/api/users", nil)
	// An admin key resets it: both are refused at once.
	p.expect(200, "POST", "/api/users/"+id+"/reset-2fa", nil)
	p.expectAs(403, session, "GET", "/api/users", nil)
	p.expectAs(403, token, "GET", "/api/users", nil)
	// On again, both work at once.
	_, codes := p.enableTwoFactor(clock, session.cookie)
	p.expectAs(200, session, "GET", "/api/users", nil)
	p.expectAs(200, token, "GET", "/api/users", nil)
	// The user turns it off (with a recovery code, the clock still):
	// both are refused at once.
	p.expectAs(204, session, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": codes[0]})
	p.expectAs(403, session, "GET", "/api/users", nil)
	p.expectAs(403, token, "GET", "/api/users", nil)
}

func TestSessionExpiryIsJudgedAtEachUseFromCachedTimes(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		p, clock := newClockPanel(t, panel.Config{SessionIdle: 3 * time.Second})
		p.addUser("ann", false)
		session := cred{cookie: p.signIn("ann", "")}
		clock.advance(2 * time.Second)
		p.expectAs(200, session, "GET", "/api/client/account", nil)
		clock.advance(time.Second)
		p.expectAs(401, session, "GET", "/api/client/account", nil)
	})
	t.Run("absolute", func(t *testing.T) {
		p, clock := newClockPanel(t, panel.Config{SessionMax: time.Hour})
		p.addUser("ann", false)
		session := cred{cookie: p.signIn("ann", "")}
		clock.advance(time.Hour - time.Second)
		p.expectAs(200, session, "GET", "/api/client/account", nil)
		clock.advance(time.Second)
		p.expectAs(401, session, "GET", "/api/client/account", nil)
	})
}

func TestCachedSessionsLastSeenIsStillWrittenOnceAMinute(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	session := cred{cookie: p.signIn("ann", "")}
	lastSeen := func() time.Time {
		t.Helper()
		list, err := p.st.ListSessions(context.Background(), id)
		if err != nil || len(list) != 1 {
			t.Fatalf("sessions: %v, %v", list, err)
		}
		return list[0].LastSeenAt
	}
	start := clock.Now()
	clock.advance(time.Minute - panel.CredCacheTTL/2)
	p.expectAs(200, session, "GET", "/api/client/account", nil)
	if got := lastSeen(); !got.Equal(start) {
		t.Fatalf("last seen = %v, want the sign-in's %v (no write within a minute)", got, start)
	}
	// Still cached, past the minute: this use writes it.
	clock.advance(panel.CredCacheTTL / 2)
	p.expectAs(200, session, "GET", "/api/client/account", nil)
	if got, want := lastSeen(), clock.Now(); !got.Equal(want) {
		t.Errorf("last seen = %v, want %v", got, want)
	}
}

// Another panel on the same database ends a session or demotes a user: this
// panel sees it when its cache entry ages out, credCacheTTL at most.
func TestAnotherPanelsChangesTakeEffectWithinTheCacheLifetime(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{now: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)}
	here := newPanelOn(t, openStore(t, dir), panel.Config{Now: clock.Now})
	there := newPanelOn(t, openStore(t, dir), panel.Config{Now: clock.Now})
	id := here.addUser("root", true)
	session := cred{cookie: here.signIn("root", "")}
	token := cred{token: here.newToken(session.cookie, map[string]any{"name": "t"})}
	here.expectAs(200, session, "GET", "/api/users", nil)
	here.expectAs(200, token, "GET", "/api/users", nil)
	there.expectAs(204, session, "POST", "/auth/logout", nil)
	there.expect(200, "PATCH", "/api/users/"+id, map[string]any{"admin": false})
	clock.advance(panel.CredCacheTTL)
	here.expectAs(401, session, "GET", "/api/users", nil)
	here.expectAs(403, token, "GET", "/api/users", nil)
}
