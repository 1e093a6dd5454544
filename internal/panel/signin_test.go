package panel_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

func TestLoginAnswersAnUnknownUserAndAWrongPasswordAlike(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	attempt := func(name string) (response, int64) {
		t.Helper()
		before := panel.PasswordChecks(p.server)
		r := p.login("", map[string]any{"username": name, "password": "wrong password"})
		return r, panel.PasswordChecks(p.server) - before
	}
	wrong, wrongChecks := attempt("ann")
	unknown, unknownChecks := attempt("nobody")
	for _, r := range []response{wrong, unknown} {
		if r.code != 401 || string(r.body) != `{"error":"invalid username or password"}`+"\n" {
			t.Errorf("answer %d %s, want 401 {\"error\":\"invalid username or password\"}", r.code, r.body)
		}
		if r.header.Get("Set-Cookie") != "" {
			t.Errorf("a refused sign-in sets a cookie: %v", r.header)
		}
	}
	if !bytes.Equal(wrong.body, unknown.body) {
		t.Errorf("the answers differ: %s / %s", wrong.body, unknown.body)
	}
	// Comparable time: both ran one argon2id check, the unknown user
	// against the dummy hash.
	if wrongChecks != 1 || unknownChecks != 1 {
		t.Errorf("password checks: wrong password %d, unknown user %d; want 1 each", wrongChecks, unknownChecks)
	}
}

func TestDummyHashHasTheParametersOfRealOnes(t *testing.T) {
	params := func(h string) string { return strings.Join(strings.Split(h, "$")[:4], "$") }
	real := secret.HashPassword("x")
	if params(panel.DummyPasswordHash) != params(real) {
		t.Errorf("dummy hash %s does not cost what %s does", params(panel.DummyPasswordHash), params(real))
	}
	if ok, err := secret.CheckPassword(panel.DummyPasswordHash, ""); ok || err != nil {
		t.Errorf("the dummy hash does not parse, or matches the empty password: %v %v", ok, err)
	}
}

func TestLoginSetsAnHttpOnlySessionCookie(t *testing.T) {
	for _, c := range []struct {
		publicURL string
		secure    bool
	}{{"", false}, {"http://panel.example", false}, {"https://panel.example", true}} {
		p, _ := newClockPanel(t, panel.Config{PublicURL: c.publicURL})
		id := p.addUser("ann", false)
		r := p.login("", map[string]any{"username": "ANN@example.com", "password": userPassword})
		if r.code != 200 {
			t.Fatalf("sign in by email: %d %s", r.code, r.body)
		}
		ck := sessionOf(t, r)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != c.secure {
			t.Errorf("public URL %q: cookie %+v, want HttpOnly, SameSite=Lax, Path=/, Secure=%v", c.publicURL, ck, c.secure)
		}
		user := r.object(t)["user"].(map[string]any)
		if user["userId"] != id || user["username"] != "ann" || user["twoFactorEnabled"] != false {
			t.Errorf("sign-in answered user %v", user)
		}
		if strings.Contains(string(r.body), ck.Value) || strings.Contains(string(r.body), "$argon2id") {
			t.Errorf("the sign-in answer carries a secret: %s", r.body)
		}
		got := p.expectAs(200, cred{cookie: ck.Value}, "GET", "/api/client/account", nil).object(t)
		if got["userId"] != id {
			t.Errorf("the session is not ann's: %v", got)
		}
	}
}

func TestLoginRefusesBadBodiesNamingTheField(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"password": userPassword}, "username"},
		{map[string]any{"username": "ann"}, "password"},
		{map[string]any{"username": "ann", "password": true}, "password"},
		{map[string]any{"username": []int{1}, "password": "x"}, "username"},
		{map[string]any{"username": "ann", "password": "x", "code": map[string]any{}}, "code"},
		{`{"username":`, "body"},
	} {
		r := p.as(cred{}, "POST", "/auth/login", c.body)
		if r.code != 400 || !strings.HasPrefix(r.errorMessage(t), c.field+":") {
			t.Errorf("%v: %d %s, want 400 naming %s", c.body, r.code, r.body, c.field)
		}
	}
}

func TestLoginThrottlesAnAccountAfterFiveFailures(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	wrong := map[string]any{"username": "ann", "password": "wrong password"}
	right := map[string]any{"username": "ann", "password": userPassword}
	fail := func(n int) {
		t.Helper()
		for range n {
			if r := p.login("", wrong); r.code != 401 {
				t.Fatalf("wrong password: %d %s, want 401", r.code, r.body)
			}
		}
	}
	fail(5)
	r := p.login("", right)
	if r.code != 429 || r.header.Get("Retry-After") != "60" {
		t.Fatalf("the right password after 5 failures: %d Retry-After %q %s, want 429 and 60", r.code, r.header.Get("Retry-After"), r.body)
	}
	clock.advance(59 * time.Second)
	if r := p.login("", right); r.code != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("a second before the lock ends: %d Retry-After %q", r.code, r.header.Get("Retry-After"))
	}
	clock.advance(time.Second)
	// A failure past the lock locks again, for twice as long.
	fail(1)
	if r := p.login("", right); r.code != 429 || r.header.Get("Retry-After") != "120" {
		t.Fatalf("after a 6th failure: %d Retry-After %q, want 429 and 120", r.code, r.header.Get("Retry-After"))
	}
	clock.advance(2 * time.Minute)
	p.expectAs(200, cred{}, "POST", "/auth/login", right)
	// Success forgets the account's failures.
	fail(4)
	p.expectAs(200, cred{}, "POST", "/auth/login", right)
}

// TestLoginThrottleHoldsUnderParallelGuesses sends 30 wrong passwords for
// one account at once: however they interleave, no more than 5 are
// checked and refused as wrong; the rest are throttled.
func TestLoginThrottleHoldsUnderParallelGuesses(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	const guesses = 30
	codes := make([]int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			codes[i] = p.login("", map[string]any{"username": "ann", "password": "guess " + itoa(i)}).code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[401] > 5 || count[401]+count[429] != guesses {
		t.Errorf("answers to %d parallel wrong passwords: %v; want at most 5 401s and the rest 429", guesses, count)
	}
	if r := p.login("", map[string]any{"username": "ann", "password": userPassword}); r.code != 200 && r.code != 429 {
		t.Errorf("the right password after the guesses: %d %s", r.code, r.body)
	}
}

// TestOwnPasswordThrottleHoldsUnderParallelGuesses is the same for the
// password a signed-in user types to confirm a change.
func TestOwnPasswordThrottleHoldsUnderParallelGuesses(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	const guesses = 30
	codes := make([]int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			codes[i] = p.as(cred{cookie: session}, "POST", "/api/client/account/password",
				map[string]any{"current": "guess " + itoa(i), "new": "a new long password"}).code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[403] > 5 || count[403]+count[429] != guesses {
		t.Errorf("answers to %d parallel wrong passwords: %v; want at most 5 403s and the rest 429", guesses, count)
	}
}

func TestLoginThrottlesAnUnknownNameAsAKnownOne(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	for range 5 {
		p.login("", map[string]any{"username": "nobody", "password": "guess"})
	}
	if r := p.login("", map[string]any{"username": "NOBODY", "password": "guess"}); r.code != 429 {
		t.Errorf("a 6th try at an unknown name: %d %s, want 429 as for a real account", r.code, r.body)
	}
}

func TestLoginThrottlesAnAddressAfterTwentyFailures(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	for i := range 20 {
		r := p.login("198.51.100.7:1000", map[string]any{"username": "guess" + itoa(i), "password": "guess"})
		if r.code != 401 {
			t.Fatalf("failure %d: %d %s", i+1, r.code, r.body)
		}
	}
	right := map[string]any{"username": "ann", "password": userPassword}
	if r := p.login("198.51.100.7:2000", right); r.code != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("from the address after 20 failures: %d %v, want 429 with Retry-After", r.code, r.header)
	}
	if r := p.login("198.51.100.8:1000", right); r.code != 200 {
		t.Errorf("from another address: %d %s, want 200", r.code, r.body)
	}
	clock.advance(time.Minute)
	if r := p.login("198.51.100.7:2000", right); r.code != 200 {
		t.Errorf("from the address after the lock: %d %s, want 200", r.code, r.body)
	}
}

func TestLogoutEndsTheSessionServerSide(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	session := p.signIn("ann", "")
	p.expectAs(200, cred{cookie: session}, "GET", "/api/client/account", nil)
	r := p.expectAs(204, cred{cookie: session}, "POST", "/auth/logout", nil)
	if ck := (&http.Response{Header: r.header}).Cookies(); len(ck) != 1 || ck[0].MaxAge >= 0 {
		t.Errorf("logout does not clear the cookie: %v", r.header)
	}
	if list, err := p.st.ListSessions(context.Background(), id); err != nil || len(list) != 0 {
		t.Errorf("sessions after logout: %v, %v", list, err)
	}
	// The cookie's value, kept by a thief, no longer works.
	p.expectAs(401, cred{cookie: session}, "GET", "/api/client/account", nil)
	p.expectAs(204, cred{}, "POST", "/auth/logout", nil)
}

func TestSessionEndsWhenIdleAndAtItsAbsoluteExpiry(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{SessionIdle: time.Hour, SessionMax: 3 * time.Hour})
	p.addUser("ann", false)
	idle := p.signIn("ann", "")
	busy := p.signIn("ann", "")
	clock.advance(59 * time.Minute)
	p.expectAs(200, cred{cookie: busy}, "GET", "/api/client/account", nil)
	clock.advance(time.Minute)
	p.expectAs(401, cred{cookie: idle}, "GET", "/api/client/account", nil)
	// Used every 50 minutes, a session lives until its absolute expiry.
	for range 2 {
		clock.advance(50 * time.Minute)
		p.expectAs(200, cred{cookie: busy}, "GET", "/api/client/account", nil)
	}
	clock.advance(20 * time.Minute) // 3h after sign-in
	r := p.expectAs(401, cred{cookie: busy}, "GET", "/api/client/account", nil)
	if msg := r.errorMessage(t); !strings.Contains(msg, "expired") {
		t.Errorf("expired session: %q", msg)
	}
}

func TestTokenLastUsedIsWrittenAtMostOncePerMinute(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	tok := p.newToken(p.signIn("ann", ""), map[string]any{"name": "ci"})
	lastUsed := func() time.Time {
		t.Helper()
		list, err := p.st.ListAccessTokens(context.Background(), id)
		if err != nil || len(list) != 1 {
			t.Fatalf("tokens: %v, %v", list, err)
		}
		return list[0].LastUsedAt
	}
	start := clock.Now()
	p.expectAs(200, cred{token: tok}, "GET", "/api/client/account", nil)
	// Once straight after (from the panel's cache), once later (from the
	// database).
	clock.advance(time.Second)
	p.expectAs(200, cred{token: tok}, "GET", "/api/client/account", nil)
	clock.advance(58 * time.Second)
	p.expectAs(200, cred{token: tok}, "GET", "/api/client/account", nil)
	if got := lastUsed(); !got.Equal(start) {
		t.Errorf("last used = %v, want the first use %v (no write within a minute)", got, start)
	}
	clock.advance(time.Second)
	p.expectAs(200, cred{token: tok}, "GET", "/api/client/account", nil)
	if got := lastUsed(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("last used = %v, want %v", got, start.Add(time.Minute))
	}
}

// signedInSessions counts a user's sessions in the store.
func signedInSessions(t *testing.T, st *store.Store, userID string) int {
	t.Helper()
	list, err := st.ListSessions(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}
