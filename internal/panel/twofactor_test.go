package panel_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
)

func TestTwoFactorSignInTakesACodeOnceAndRefusesAReplay(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	key, _ := p.enableTwoFactor(clock, session)
	if a := p.expectAs(200, cred{cookie: session}, "GET", "/api/client/account", nil); a.object(t)["twoFactorEnabled"] != true ||
		strings.Contains(string(a.body), key) {
		t.Errorf("account after enabling: %s", a.body)
	}
	body := func(code string) map[string]any {
		b := map[string]any{"username": "ann", "password": userPassword}
		if code != "" {
			b["code"] = code
		}
		return b
	}
	expectCodeRequired := func(r response, what string) {
		t.Helper()
		m := r.object(t)
		if r.code != 401 || m["twoFactorRequired"] != true || m["error"] == "" || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %s, want 401 with twoFactorRequired and no cookie", what, r.code, r.body)
		}
	}
	expectCodeRequired(p.login("", body("")), "no code")
	expectCodeRequired(p.login("", body("000000")), "a wrong code")
	// The code that enabled two-factor was used in this step already.
	expectCodeRequired(p.login("", body(codeAt(t, key, clock.Now()))), "the enabling code again")
	clock.advance(30 * time.Second)
	code := codeAt(t, key, clock.Now())
	if r := p.login("", body(code)); r.code != 200 {
		t.Fatalf("the current code: %d %s", r.code, r.body)
	}
	expectCodeRequired(p.login("", body(code)), "the same code again (replay)")
	clock.advance(30 * time.Second)
	if r := p.login("", body(codeAt(t, key, clock.Now()))); r.code != 200 {
		t.Errorf("the next step's code: %d %s", r.code, r.body)
	}
}

func TestRecoveryCodeSignsInOnce(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	_, codes := p.enableTwoFactor(clock, p.signIn("ann", ""))
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] || len(c) != 19 {
			t.Errorf("recovery code %q repeated or malformed", c)
		}
		seen[c] = true
	}
	body := map[string]any{"username": "ann", "password": userPassword, "code": strings.ToUpper(codes[3])}
	if r := p.login("", body); r.code != 200 {
		t.Fatalf("a recovery code: %d %s", r.code, r.body)
	}
	if r := p.login("", body); r.code != 401 || r.object(t)["twoFactorRequired"] != true {
		t.Errorf("the same recovery code again: %d %s, want 401", r.code, r.body)
	}
	body["code"] = codes[4]
	if r := p.login("", body); r.code != 200 {
		t.Errorf("another recovery code: %d %s", r.code, r.body)
	}
}

func TestWrongTwoFactorCodesAreThrottled(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	key, _ := p.enableTwoFactor(clock, p.signIn("ann", ""))
	for range 5 {
		p.login("", map[string]any{"username": "ann", "password": userPassword, "code": "000000"})
	}
	clock.advance(30 * time.Second)
	r := p.login("", map[string]any{"username": "ann", "password": userPassword, "code": codeAt(t, key, clock.Now())})
	if r.code != 429 {
		t.Errorf("the right code after 5 wrong ones: %d %s, want 429", r.code, r.body)
	}
}

func TestTwoFactorSetupEnableAndDisableRules(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	s := cred{cookie: p.signIn("ann", "")}
	p.expectAs(409, s, "POST", "/api/client/account/2fa/enable", map[string]any{"code": "123456"})
	setup := p.expectAs(200, s, "POST", "/api/client/account/2fa/setup", nil).object(t)
	key := setup["secret"].(string)
	if !strings.Contains(setup["otpauthUrl"].(string), "secret="+key) || !strings.Contains(setup["otpauthUrl"].(string), "ann") {
		t.Errorf("otpauthUrl %q does not carry the secret and the account", setup["otpauthUrl"])
	}
	// Not enabled until a first code.
	if p.expectAs(200, s, "GET", "/api/client/account", nil).object(t)["twoFactorEnabled"] != false {
		t.Error("two-factor is on before a first code")
	}
	p.signIn("ann", "")
	r := p.expectAs(400, s, "POST", "/api/client/account/2fa/enable", map[string]any{"code": "000000"})
	if !strings.HasPrefix(r.errorMessage(t), "code:") {
		t.Errorf("a wrong first code: %s", r.body)
	}
	p.expectAs(200, s, "POST", "/api/client/account/2fa/enable", map[string]any{"code": codeAt(t, key, clock.Now())})
	p.expectAs(409, s, "POST", "/api/client/account/2fa/setup", nil)

	clock.advance(30 * time.Second)
	code := codeAt(t, key, clock.Now())
	r = p.expectAs(403, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": "wrong password", "code": code})
	if !strings.HasPrefix(r.errorMessage(t), "password:") {
		t.Errorf("disable with a wrong password: %s", r.body)
	}
	r = p.expectAs(403, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": "000000"})
	if !strings.HasPrefix(r.errorMessage(t), "code:") {
		t.Errorf("disable with a wrong code: %s", r.body)
	}
	p.expectAs(204, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": code})
	p.signIn("ann", "")
	p.expectAs(409, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": code})
}

func TestAdminResetsAUsersTwoFactor(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	p.addUser("root", true)
	s := cred{cookie: p.signIn("ann", "")}
	p.enableTwoFactor(clock, s.cookie)
	p.expectAs(403, s, "POST", "/api/users/"+id+"/reset-2fa", nil)
	r := p.expectAs(200, cred{cookie: p.signIn("root", "")}, "POST", "/api/users/"+id+"/reset-2fa", nil)
	if u := r.object(t); u["userId"] != id || u["twoFactorEnabled"] != false {
		t.Errorf("reset answered %s", r.body)
	}
	p.signIn("ann", "")
	p.expectAs(404, cred{key: p.key}, "POST", "/api/users/nobody/reset-2fa", nil)
	p.expect(200, "POST", "/api/users/"+id+"/reset-2fa", nil)
	p.expectAudit("user.reset-2fa", id)
}

func TestRequire2FAAdminsLetsAnAdminDoNothingButSetItUp(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{Require2FAAdmins: true})
	p.addUser("root", true)
	p.addUser("ann", false)
	r := p.login("", map[string]any{"username": "root", "password": userPassword})
	if r.code != 200 || r.object(t)["twoFactorSetupRequired"] != true {
		t.Fatalf("an admin without two-factor signs in: %d %s, want 200 with twoFactorSetupRequired", r.code, r.body)
	}
	root := cred{cookie: sessionOf(t, r).Value}
	for _, path := range []string{"/api/users", "/api/client/account"} {
		r := p.expectAs(403, root, "GET", path, nil)
		if !strings.Contains(r.errorMessage(t), "two-factor") {
			t.Errorf("GET %s: %s, want a refusal naming the two-factor rule", path, r.body)
		}
	}
	p.enableTwoFactor(clock, root.cookie)
	p.expectAs(200, root, "GET", "/api/users", nil)
	// Users who are not admins, and admin keys, are not bound by it.
	p.expectAs(200, cred{cookie: p.signIn("ann", "")}, "GET", "/api/client/account", nil)
	p.expect(200, "GET", "/api/users", nil)
}
