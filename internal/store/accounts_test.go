package store_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// accountSuite is the store tests of sessions, tokens, two-factor, SSH
// keys and sign-in failures; runStoreSuite runs them with storeSuite.
var accountSuite = []struct {
	name string
	test func(t *testing.T, db database)
}{
	{"SessionIsFoundByHashWithItsUsersAdminFlagNow", testSessionByHash},
	{"DeleteOtherSessionsKeepsTheCurrentOne", testDeleteOtherSessions},
	{"ChangePasswordEndsTheOtherSessions", testChangePasswordEndsSessions},
	{"PruneSessionsDropsExpiredAndIdleOnes", testPruneSessions},
	{"AccessTokensAreTheirUsersAlone", testAccessTokens},
	{"TwoFactorSetupEnableReplayAndDisable", testTwoFactor},
	{"RecoveryCodeWorksOnce", testRecoveryCodeOnce},
	{"SSHKeyTwiceForOneUserIsExist", testSSHKeys},
	{"LoginFailuresCountWithinTheWindow", testLoginFailures},
	{"ParallelLoginAttemptsCountEachOther", testLoginAttemptsCountEachOther},
	{"DeletingAUserDeletesItsCredentials", testUserDeleteCascades},
}

// t0 is a fixed time, in whole milliseconds as the store keeps them.
var t0 = time.UnixMilli(1_700_000_000_000).UTC()

func addSession(t *testing.T, st *store.Store, id, user string) store.Session {
	t.Helper()
	se := store.Session{ID: id, UserID: user, TokenHash: "hash-" + id, Address: "192.0.2.1", UserAgent: "test",
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := st.CreateSession(ctx, se); err != nil {
		t.Fatalf("create session %s: %v", id, err)
	}
	return se
}

func sessionIDs(t *testing.T, st *store.Store, user string) []string {
	t.Helper()
	list, err := st.ListSessions(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, se := range list {
		ids = append(ids, se.ID)
	}
	return ids
}

func testSessionByHash(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	want := addSession(t, st, "s1", "ann")
	got, err := st.SessionByHash(ctx, "hash-s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.UserID != "ann" || got.Address != "192.0.2.1" || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.LastSeenAt.Equal(t0) || got.Holder.Admin || got.Holder.TwoFactor {
		t.Errorf("session = %+v, want %+v", got, want)
	}
	if err := store.ExecRaw(ctx, st, `UPDATE users SET admin = 1 WHERE id = ?`, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchSession(ctx, "s1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err = st.SessionByHash(ctx, "hash-s1")
	if err != nil || !got.Holder.Admin || !got.LastSeenAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after promotion and touch: %+v, %v", got, err)
	}
	if _, err := st.SessionByHash(ctx, "hash-none"); !fault.Is(err, fault.NotExist) {
		t.Errorf("unknown hash: %v, want NotExist", err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: "s2", UserID: "nobody", TokenHash: "h2"}); !fault.Is(err, fault.NotExist) {
		t.Errorf("session of an unknown user: %v, want NotExist", err)
	}
}

func testDeleteOtherSessions(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addUser(t, st, "ben")
	addSession(t, st, "a1", "ann")
	addSession(t, st, "a2", "ann")
	addSession(t, st, "a3", "ann")
	addSession(t, st, "b1", "ben")
	if err := st.DeleteSession(ctx, "ann", "b1"); !fault.Is(err, fault.NotExist) {
		t.Errorf("ann deleting ben's session: %v, want NotExist", err)
	}
	if n, err := st.DeleteOtherSessions(ctx, "ann", "a2"); err != nil || n != 2 {
		t.Errorf("DeleteOtherSessions = %d, %v; want 2", n, err)
	}
	if ids := sessionIDs(t, st, "ann"); len(ids) != 1 || ids[0] != "a2" {
		t.Errorf("ann's sessions = %v, want [a2]", ids)
	}
	if err := st.DeleteSessionByHash(ctx, "hash-a2"); err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(t, st, "ann"); len(ids) != 0 {
		t.Errorf("ann's sessions after logout = %v", ids)
	}
	if ids := sessionIDs(t, st, "ben"); len(ids) != 1 {
		t.Errorf("ben's sessions = %v, want [b1]", ids)
	}
}

func testChangePasswordEndsSessions(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addSession(t, st, "a1", "ann")
	addSession(t, st, "a2", "ann")
	if err := st.ChangePassword(ctx, "ann", "$argon2id$new", "a1"); err != nil {
		t.Fatal(err)
	}
	u, err := st.UserByID(ctx, "ann")
	if err != nil || u.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash = %q, %v", u.PasswordHash, err)
	}
	if ids := sessionIDs(t, st, "ann"); len(ids) != 1 || ids[0] != "a1" {
		t.Errorf("sessions = %v, want [a1]", ids)
	}
	if err := st.ChangePassword(ctx, "nobody", "x", ""); !fault.Is(err, fault.NotExist) {
		t.Errorf("unknown user: %v, want NotExist", err)
	}
}

func testPruneSessions(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addSession(t, st, "fresh", "ann")
	idle := addSession(t, st, "idle", "ann")
	if err := store.ExecRaw(ctx, st, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, idle.LastSeenAt.Add(-time.Hour).UnixMilli(), "idle"); err != nil {
		t.Fatal(err)
	}
	if err := store.ExecRaw(ctx, st, `UPDATE sessions SET expires_at = ? WHERE id = ?`, t0.UnixMilli(), "fresh"); err != nil {
		t.Fatal(err)
	}
	addSession(t, st, "live", "ann")
	if err := st.PruneSessions(ctx, "ann", t0.Add(-time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(t, st, "ann"); len(ids) != 1 || ids[0] != "live" {
		t.Errorf("sessions = %v, want [live]", ids)
	}
}

func testAccessTokens(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addUser(t, st, "ben")
	tok := store.AccessToken{ID: "t1", UserID: "ann", Name: "ci", TokenHash: "th1", ReadOnly: true,
		ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
	if err := st.CreateAccessToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccessToken(ctx, store.AccessToken{ID: "t2", UserID: "ann", Name: "forever", TokenHash: "th2", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := st.AccessTokenByHash(ctx, "th1")
	if err != nil || got.Name != "ci" || !got.ReadOnly || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.LastUsedAt.IsZero() {
		t.Errorf("token = %+v, %v", got, err)
	}
	if got, _ := st.AccessTokenByHash(ctx, "th2"); !got.ExpiresAt.IsZero() || got.ReadOnly {
		t.Errorf("token without expiry = %+v", got)
	}
	if err := st.TouchAccessToken(ctx, "t1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := st.ListAccessTokens(ctx, "ann")
	if err != nil || len(list) != 2 {
		t.Fatalf("ann's tokens = %v, %v", list, err)
	}
	if list, _ := st.ListAccessTokens(ctx, "ben"); len(list) != 0 {
		t.Errorf("ben's tokens = %v, want none", list)
	}
	if err := st.DeleteAccessToken(ctx, "ben", "t1"); !fault.Is(err, fault.NotExist) {
		t.Errorf("ben deleting ann's token: %v, want NotExist", err)
	}
	if err := st.DeleteAccessToken(ctx, "ann", "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccessTokenByHash(ctx, "th1"); !fault.Is(err, fault.NotExist) {
		t.Errorf("deleted token: %v, want NotExist", err)
	}
}

func testTwoFactor(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addSession(t, st, "a1", "ann")
	if _, err := st.TwoFactorOf(ctx, "ann"); !fault.Is(err, fault.NotExist) {
		t.Errorf("before setup: %v, want NotExist", err)
	}
	if err := st.EnableTwoFactor(ctx, "ann", 10, nil); !fault.Is(err, fault.Conflict) {
		t.Errorf("enable without setup: %v, want Conflict", err)
	}
	if err := st.StartTwoFactor(ctx, "ann", "FIRST", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.StartTwoFactor(ctx, "ann", "SECOND", t0); err != nil {
		t.Fatalf("a second setup replaces the first: %v", err)
	}
	if ok, err := st.UseTOTPStep(ctx, "ann", 5); ok || err != nil {
		t.Errorf("a step used before two-factor is enabled: %v, %v", ok, err)
	}
	if err := st.EnableTwoFactor(ctx, "ann", 10, []string{"c1", "c2"}); err != nil {
		t.Fatal(err)
	}
	tf, err := st.TwoFactorOf(ctx, "ann")
	if err != nil || tf.Secret != "SECOND" || !tf.Enabled || tf.LastStep != 10 {
		t.Errorf("after enable: %+v, %v", tf, err)
	}
	if se, _ := st.SessionByHash(ctx, "hash-a1"); !se.Holder.TwoFactor {
		t.Error("the session's holder does not show two-factor on")
	}
	if err := st.StartTwoFactor(ctx, "ann", "THIRD", t0); !fault.Is(err, fault.Conflict) {
		t.Errorf("setup while enabled: %v, want Conflict", err)
	}
	for _, c := range []struct {
		step int64
		ok   bool
	}{{10, false}, {9, false}, {11, true}, {11, false}} {
		if ok, err := st.UseTOTPStep(ctx, "ann", c.step); ok != c.ok || err != nil {
			t.Errorf("UseTOTPStep(%d) = %v, %v; want %v", c.step, ok, err, c.ok)
		}
	}
	if err := st.DisableTwoFactor(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TwoFactorOf(ctx, "ann"); !fault.Is(err, fault.NotExist) {
		t.Errorf("after disable: %v, want NotExist", err)
	}
	if ok, _ := st.UseRecoveryCode(ctx, "ann", "c1", t0); ok {
		t.Error("a recovery code outlives disabling two-factor")
	}
	if err := st.DisableTwoFactor(ctx, "nobody"); !fault.Is(err, fault.NotExist) {
		t.Errorf("disable for an unknown user: %v, want NotExist", err)
	}
}

func testRecoveryCodeOnce(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addUser(t, st, "ben")
	if err := st.StartTwoFactor(ctx, "ann", "S", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.EnableTwoFactor(ctx, "ann", 1, []string{"c1", "c2"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, code string
		ok         bool
	}{{"ben", "c1", false}, {"ann", "c1", true}, {"ann", "c1", false}, {"ann", "c3", false}, {"ann", "c2", true}} {
		if ok, err := st.UseRecoveryCode(ctx, c.user, c.code, t0); ok != c.ok || err != nil {
			t.Errorf("UseRecoveryCode(%s, %s) = %v, %v; want %v", c.user, c.code, ok, err, c.ok)
		}
	}
}

func testSSHKeys(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addUser(t, st, "ben")
	k := store.SSHKey{ID: "k1", UserID: "ann", Name: "laptop", PublicKey: "ssh-ed25519 AAAA", Fingerprint: "SHA256:x", CreatedAt: t0}
	if err := st.CreateSSHKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.ID = "k2"
	if err := st.CreateSSHKey(ctx, k); !fault.Is(err, fault.Exist) {
		t.Errorf("the same key twice: %v, want Exist", err)
	}
	k.ID, k.UserID = "k3", "ben"
	if err := st.CreateSSHKey(ctx, k); err != nil {
		t.Errorf("the same key for another user: %v", err)
	}
	list, err := st.ListSSHKeys(ctx, "ann")
	if err != nil || len(list) != 1 || list[0].ID != "k1" || list[0].Fingerprint != "SHA256:x" || !list[0].CreatedAt.Equal(t0) {
		t.Errorf("ann's keys = %+v, %v", list, err)
	}
	if err := st.DeleteSSHKey(ctx, "ann", "k3"); !fault.Is(err, fault.NotExist) {
		t.Errorf("ann deleting ben's key: %v, want NotExist", err)
	}
	if err := st.DeleteSSHKey(ctx, "ann", "k1"); err != nil {
		t.Fatal(err)
	}
}

func testLoginFailures(t *testing.T, db database) {
	st := db(t)
	both := []string{"user:ann", "addr:192.0.2.1"}
	begin := func(attempt string, scopes []string, at, since, forget time.Time) []store.Failures {
		t.Helper()
		f, err := st.BeginLoginAttempt(ctx, attempt, scopes, at, since, forget)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// Three failed attempts, a minute apart: each counts those before it,
	// never itself.
	for i := range 3 {
		f := begin("a"+string(rune('0'+i)), both, t0.Add(time.Duration(i)*time.Minute), t0.Add(-time.Hour), t0.Add(-time.Hour))
		if len(f) != 2 || f[0].Count != i || f[1].Count != i {
			t.Fatalf("attempt %d counted %+v, want %d in each scope", i, f, i)
		}
	}
	// The window: those since t0+1m.
	f := begin("b", both, t0.Add(3*time.Minute), t0.Add(time.Minute), t0.Add(-time.Hour))
	if f[0].Count != 2 || !f[0].Newest.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("failures since t0+1m = %+v; want 2, newest t0+2m", f[0])
	}
	// An attempt that did not fail is undone, in both scopes.
	if err := st.EndLoginAttempt(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if f := begin("c", both, t0.Add(3*time.Minute), t0.Add(-time.Hour), t0.Add(-time.Hour)); f[0].Count != 3 || f[1].Count != 3 {
		t.Errorf("after undoing an attempt: %+v, want 3 in each scope", f)
	}
	if err := st.EndLoginAttempt(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearLoginFailures(ctx, "user:ann"); err != nil {
		t.Fatal(err)
	}
	f = begin("d", both, t0.Add(3*time.Minute), t0.Add(-time.Hour), t0.Add(-time.Hour))
	if f[0].Count != 0 || !f[0].Newest.IsZero() || f[1].Count != 3 {
		t.Errorf("after clearing the account: %+v, want 0 for it and 3 for the address", f)
	}
	// A new attempt forgets the failures before its cut-off.
	begin("e", []string{"user:ben"}, t0.Add(time.Hour), t0.Add(-time.Hour), t0.Add(150*time.Second))
	if f := begin("f", both, t0.Add(time.Hour), t0.Add(-time.Hour), t0.Add(-time.Hour)); f[1].Count != 1 {
		t.Errorf("after forgetting: %+v, want the address's failure at t0+3m alone", f)
	}
	if _, err := st.BeginLoginAttempt(ctx, "", both, t0, t0, t0); err == nil {
		t.Error("an attempt without an id was recorded")
	}
}

// testLoginAttemptsCountEachOther begins many attempts at once: however
// they interleave, no more than limit of them count fewer than limit
// failures before theirs, so no more than limit pass the throttle.
func testLoginAttemptsCountEachOther(t *testing.T, db database) {
	st := db(t)
	const attempts, limit = 30, 5
	counts := make([]int, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			f, err := st.BeginLoginAttempt(ctx, "p"+strconv.Itoa(i), []string{"user:ann"}, t0, t0.Add(-time.Hour), t0.Add(-time.Hour))
			if err != nil {
				t.Error(err)
				return
			}
			counts[i] = f[0].Count
		})
	}
	wg.Wait()
	passed := 0
	for _, n := range counts {
		if n < limit {
			passed++
		}
	}
	if passed > limit {
		t.Errorf("%d of %d parallel attempts counted fewer than %d before them (%v)", passed, attempts, limit, counts)
	}
}

func testUserDeleteCascades(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "ann")
	addSession(t, st, "a1", "ann")
	if err := st.CreateAccessToken(ctx, store.AccessToken{ID: "t1", UserID: "ann", Name: "x", TokenHash: "th", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.StartTwoFactor(ctx, "ann", "S", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSSHKey(ctx, store.SSHKey{ID: "k", UserID: "ann", Name: "k", PublicKey: "p", Fingerprint: "f", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := store.ExecRaw(ctx, st, `DELETE FROM users WHERE id = ?`, "ann"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"sessions", "access_tokens", "two_factor", "ssh_keys"} {
		var n int
		if err := store.QueryRowRaw(ctx, st, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s holds %d rows of a deleted user (%v)", table, n, err)
		}
	}
}
