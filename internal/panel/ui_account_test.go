package panel_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
)

// accountPaths are the account's pages.
var accountPaths = []string{"/account", "/account/sessions", "/account/tokens", "/account/ssh-keys"}

// checkAccessible fails unless a page has one h1 and a label for every
// input, select and textarea with an id.
func checkAccessible(t *testing.T, path, body string) {
	t.Helper()
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("GET %s: %d h1 elements, want 1", path, n)
	}
	for _, m := range regexp.MustCompile(`<(?:input|select|textarea)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(body, `for="`+m[1]+`"`) && !regexp.MustCompile(`<label[^>]*><input[^>]*\bid="`+m[1]+`"`).MatchString(body) {
			t.Errorf("GET %s: input #%s has no label", path, m[1])
		}
	}
}

// secretsOf are the stored secrets of user id that no page may hold: its
// password hash and its two-factor secret, if any.
func (p *testPanel) secretsOf(id string) []string {
	p.t.Helper()
	u, err := p.st.UserByID(context.Background(), id)
	if err != nil {
		p.t.Fatal(err)
	}
	out := []string{u.PasswordHash}
	if tf, err := p.st.TwoFactorOf(context.Background(), id); err == nil {
		out = append(out, tf.Secret)
	}
	return out
}

func TestAccountPagesSendAStrangerToSignIn(t *testing.T) {
	p := newPanel(t, panel.Config{})
	for _, path := range accountPaths {
		p.expectSignInRedirect(path)
	}
}

func TestAccountPagesAreTabbedAndAccessible(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	for _, path := range accountPaths {
		body := p.expectPage(200, session, path, `<nav class="tabs" aria-label="Account">`, `href="/account/ssh-keys"`)
		if !strings.Contains(body, `href="`+path+`" aria-current="page"`) {
			t.Errorf("GET %s: its tab is not marked current", path)
		}
		checkAccessible(t, path, body)
		lacks(t, path, body, session, p.key)
	}
}

func TestAccountPageShowsTheProfilePasswordAndTwoFactorSetUp(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	session := p.signIn("ann", "")
	// A set-up begun but not finished: its secret stays out of the page.
	p.expectAs(200, cred{cookie: session}, "POST", "/api/client/account/2fa/setup", nil)
	body := p.expectPage(200, session, "/account", "ann@example.com", `data-api="POST /api/client/account/password"`,
		"your other sessions end", `id="tf-start"`, `data-api="POST /api/client/account/2fa/enable"`, `id="tf-qr"`, "I have saved them")
	lacks(t, "/account", body, append(p.secretsOf(id), session)...)
	if strings.Contains(body, "2fa/disable") {
		t.Error("/account offers to turn off a two-factor that is off")
	}

	_, codes := p.enableTwoFactor(clock, session)
	body = p.expectPage(200, session, "/account", "Turn two-factor off", `data-api="POST /api/client/account/2fa/disable"`,
		`for="tf-off-password"`, `for="tf-off-code"`)
	lacks(t, "/account with two-factor on", body, append(append(p.secretsOf(id), session), codes...)...)
	if strings.Contains(body, `id="tf-start"`) {
		t.Error("/account offers to set up a two-factor that is on")
	}
}

func TestSessionsPageMarksTheCurrentOneAndEndsTheOthers(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	p.addUser("bob", false)
	signInWith := func(name, agent string) string {
		r := p.as(cred{}, "POST", "/auth/login", map[string]any{"username": name, "password": userPassword}, "User-Agent", agent)
		return sessionOf(t, r).Value
	}
	phone := signInWith("ann", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Mobile Safari/537.36")
	laptop := signInWith("ann", "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0")
	bob := signInWith("bob", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36 Edg/128.0")

	var phoneID, laptopID string
	for _, se := range p.expectAs(200, cred{cookie: laptop}, "GET", "/api/client/account/sessions", nil).array(t) {
		if se["current"] == true {
			laptopID = se["id"].(string)
		} else {
			phoneID = se["id"].(string)
		}
	}
	body := p.expectPage(200, laptop, "/account/sessions", "Chrome on Android", "Firefox on Linux", "This browser",
		`data-call="DELETE /api/client/account/sessions/`+phoneID+`"`, `data-call="DELETE /api/client/account/sessions"`, "192.0.2.10")
	lacks(t, "/account/sessions", body, phone, laptop, bob, "Edge on Windows")
	if strings.Contains(body, "/api/client/account/sessions/"+laptopID) {
		t.Error("the sessions page offers to end the current session as another one")
	}
	if strings.Count(body, "This browser") != 1 {
		t.Error("the sessions page does not mark exactly one session as the current one")
	}
	// Alone, there are no others to end.
	body = p.expectPage(200, bob, "/account/sessions", "Edge on Windows")
	if strings.Contains(body, `data-call="DELETE /api/client/account/sessions"`) {
		t.Error("a user with one session is offered to end all others")
	}
}

func TestSessionsPageNamesTheDevice(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	for agent, want := range map[string]string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36 OPR/112.0":                "Opera on macOS",
		"curl/8.9.1": "curl",
		"":           "Unknown device",
	} {
		r := p.as(cred{}, "POST", "/auth/login", map[string]any{"username": "ann", "password": userPassword}, "User-Agent", agent)
		p.expectPage(200, sessionOf(t, r).Value, "/account/sessions", ">"+want+"<")
	}
}

func TestTokensPageListsTokensButNeverTheirValues(t *testing.T) {
	p := newPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	p.addUser("bob", false)
	session := p.signIn("ann", "")
	p.expectPage(200, session, "/account/tokens", "No tokens yet", `data-api="POST /api/client/account/tokens"`,
		`name="readOnly"`, `name="expiresAt"`, `id="token-value"`)
	ro := p.newToken(session, map[string]any{"name": "backup script", "readOnly": true, "expiresAt": "2099-01-31T12:00:00Z"})
	full := p.newToken(session, map[string]any{"name": "deploy bot"})
	other := p.newToken(p.signIn("bob", ""), map[string]any{"name": "bob's robot"})
	body := p.expectPage(200, session, "/account/tokens", "backup script", "deploy bot", "Read-only", "Full",
		`datetime="2099-01-31T12:00:00Z"`, "Never", `data-call="DELETE /api/client/account/tokens/`)
	lacks(t, "/account/tokens", body, append(p.secretsOf(id), ro, full, other, "bob&#39;s robot", "No tokens yet")...)
}

func TestSSHKeysPageListsKeysWithFingerprints(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	p.expectPage(200, session, "/account/ssh-keys", "No SSH keys yet", `data-api="POST /api/client/account/ssh-keys"`,
		`name="publicKey"`, "DSA keys are refused")
	line, _ := authorizedKey(t, "ann@laptop")
	key := p.expectAs(201, cred{cookie: session}, "POST", "/api/client/account/ssh-keys",
		map[string]any{"publicKey": line}).object(t)
	// html/template writes a fingerprint's "+" as "&#43;".
	fingerprint := strings.ReplaceAll(key["fingerprint"].(string), "+", "&#43;")
	body := p.expectPage(200, session, "/account/ssh-keys", key["name"].(string), fingerprint,
		`data-call="DELETE /api/client/account/ssh-keys/`+key["id"].(string)+`"`)
	lacks(t, "/account/ssh-keys", body, session, "No SSH keys yet")
}

func TestAdminWithoutTwoFactorIsSentToSetItUp(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{Require2FAAdmins: true})
	p.addUser("root", true)
	p.addUser("ann", false)
	root := p.signIn("root", "")
	for _, path := range []string{"/", "/account/sessions", "/account/tokens", "/account/ssh-keys"} {
		r := p.page(root, path)
		if r.code != http.StatusSeeOther || r.header.Get("Location") != "/account" {
			t.Errorf("GET %s as an admin without two-factor: %d to %q, want 303 to /account", path, r.code, r.header.Get("Location"))
		}
	}
	body := p.expectPage(200, root, "/account", "Set up two-factor authentication first", `id="tf-start"`, `data-next="/"`)
	if strings.Contains(body, `aria-label="Account"`) || strings.Contains(body, "account/password") {
		t.Error("the set-up page offers the account's other parts, which the admin may not use yet")
	}
	// Users who are not admins are not bound by it, nor is an admin once it is on.
	p.expectPage(200, p.signIn("ann", ""), "/", "Your instances")
	p.enableTwoFactor(clock, root)
	body = p.expectPage(200, root, "/account", `aria-label="Account"`)
	if strings.Contains(body, "Set up two-factor authentication first") {
		t.Error("an admin with two-factor on is still told to set it up")
	}
	p.expectPage(200, root, "/", "Your instances")

	// Without the rule, an admin without two-factor goes anywhere.
	q := newPanel(t, panel.Config{})
	q.addUser("root", true)
	q.expectPage(200, q.signIn("root", ""), "/", "Your instances")
}
