package panel_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/totp"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newClockPanel is newPanel with a test clock, starting at a fixed time.
func newClockPanel(t testing.TB, cfg panel.Config) (*testPanel, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)}
	cfg.Now = clock.Now
	return newPanel(t, cfg), clock
}

// userPassword is the password of the users the account tests create.
const userPassword = "correct horse battery"

// cred is how a test request authenticates: at most one of its fields is
// set, or none.
type cred struct {
	key, cookie, token string
}

// as makes a request with cred c and extra headers, given as name,
// value pairs.
func (p *testPanel) as(c cred, method, path string, body any, headers ...string) response {
	p.t.Helper()
	rd, ct := encodeBody(p.t, body)
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.10:40000"
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	switch {
	case c.key != "":
		req.Header.Set("x-api-key", c.key)
	case c.cookie != "":
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: c.cookie})
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// expectAs is as, failing unless the answer is code.
func (p *testPanel) expectAs(code int, c cred, method, path string, body any, headers ...string) response {
	p.t.Helper()
	r := p.as(c, method, path, body, headers...)
	if r.code != code {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.code, code, r.body)
	}
	return r
}

// addUser creates a user with userPassword and returns its id.
func (p *testPanel) addUser(name string, admin bool) string {
	p.t.Helper()
	r := p.expect(201, "POST", "/api/auth/create-user", map[string]any{
		"username": name, "email": name + "@example.com", "password": userPassword, "admin": admin})
	return r.object(p.t)["userId"].(string)
}

// login posts a sign-in from the given address ("" for the default).
func (p *testPanel) login(addr string, body map[string]any) response {
	p.t.Helper()
	if addr == "" {
		return p.as(cred{}, "POST", "/auth/login", body)
	}
	rd, ct := encodeBody(p.t, body)
	req := httptest.NewRequest("POST", "/auth/login", rd)
	req.Header.Set("Content-Type", ct)
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// sessionOf returns the berth_session cookie a sign-in set, failing when
// it set none.
func sessionOf(t testing.TB, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "berth_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no berth_session cookie in %d %s (headers %v)", r.code, r.body, r.header)
	return nil
}

// signIn signs name in with userPassword (and code, if not "") and
// returns the session cookie's value.
func (p *testPanel) signIn(name, code string) string {
	p.t.Helper()
	body := map[string]any{"username": name, "password": userPassword}
	if code != "" {
		body["code"] = code
	}
	r := p.login("", body)
	if r.code != 200 {
		p.t.Fatalf("sign in as %s: %d %s", name, r.code, r.body)
	}
	return sessionOf(p.t, r).Value
}

// newToken creates a token of the signed-in user and returns it.
func (p *testPanel) newToken(session string, body map[string]any) string {
	p.t.Helper()
	r := p.expectAs(201, cred{cookie: session}, "POST", "/api/client/account/tokens", body)
	tok, _ := r.object(p.t)["token"].(string)
	if !strings.HasPrefix(tok, "berth_pat_") {
		p.t.Fatalf("token answer without a berth_pat_ token: %s", r.body)
	}
	return tok
}

// enableTwoFactor sets two-factor up and on for the signed-in user, and
// returns its secret and recovery codes.
func (p *testPanel) enableTwoFactor(clock *testClock, session string) (string, []string) {
	p.t.Helper()
	setup := p.expectAs(200, cred{cookie: session}, "POST", "/api/client/account/2fa/setup", nil).object(p.t)
	key, _ := setup["secret"].(string)
	if key == "" || !strings.HasPrefix(setup["otpauthUrl"].(string), "otpauth://totp/") {
		p.t.Fatalf("setup answered %v", setup)
	}
	r := p.expectAs(200, cred{cookie: session}, "POST", "/api/client/account/2fa/enable",
		map[string]any{"code": codeAt(p.t, key, clock.Now())})
	var codes []string
	for _, c := range r.object(p.t)["recoveryCodes"].([]any) {
		codes = append(codes, c.(string))
	}
	if len(codes) != 10 {
		p.t.Fatalf("enable answered %d recovery codes, want 10: %s", len(codes), r.body)
	}
	return key, codes
}

// codeAt is the TOTP code of key at t.
func codeAt(t testing.TB, key string, at time.Time) string {
	t.Helper()
	code, err := totp.Code(key, totp.Step(at))
	if err != nil {
		t.Fatal(err)
	}
	return code
}
