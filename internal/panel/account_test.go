package panel_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/panel"
)

func TestAccountShowsTheUserWithoutSecrets(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	a := p.expectAs(200, cred{cookie: p.signIn("ann", "")}, "GET", "/api/client/account", nil)
	m := a.object(t)
	hasKeys(t, "the account", m, "userId", "username", "email", "admin", "createdAt", "twoFactorEnabled")
	if m["userId"] != id || strings.Contains(string(a.body), "argon2") || strings.Contains(string(a.body), "assword") {
		t.Errorf("account = %s", a.body)
	}
}

func TestPasswordChangeEndsTheOtherSessions(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	here := cred{cookie: p.signIn("ann", "")}
	there := cred{cookie: p.signIn("ann", "")}
	tok := cred{token: p.newToken(here.cookie, map[string]any{"name": "t"})}
	r := p.expectAs(403, here, "POST", "/api/client/account/password", map[string]any{"current": "wrong password", "new": "a new password"})
	if !strings.HasPrefix(r.errorMessage(t), "current:") {
		t.Errorf("a wrong current password: %s", r.body)
	}
	r = p.expectAs(400, here, "POST", "/api/client/account/password", map[string]any{"current": userPassword, "new": "short"})
	if !strings.HasPrefix(r.errorMessage(t), "new:") {
		t.Errorf("a short new password: %s", r.body)
	}
	p.expectAs(200, there, "GET", "/api/client/account", nil)
	p.expectAs(204, here, "POST", "/api/client/account/password", map[string]any{"current": userPassword, "new": "a new password"})
	p.expectAs(200, here, "GET", "/api/client/account", nil)
	p.expectAs(401, there, "GET", "/api/client/account", nil)
	if n := signedInSessions(t, p.st, id); n != 1 {
		t.Errorf("%d sessions left, want the one that changed the password", n)
	}
	p.expectAs(200, tok, "GET", "/api/client/account", nil)
	if r := p.login("", map[string]any{"username": "ann", "password": userPassword}); r.code != 401 {
		t.Errorf("the old password: %d %s", r.code, r.body)
	}
	p.expectAs(200, cred{}, "POST", "/auth/login", map[string]any{"username": "ann", "password": "a new password"})
	if e := p.lastAudit(); e.Action != "account.password" || e.Target != id {
		t.Errorf("newest audit entry = %+v, want the password change", e)
	}
}

func TestSessionsAreListedAndEndedOneOrAllOthers(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	p.addUser("ben", false)
	here := cred{cookie: p.signIn("ann", "")}
	p.signIn("ann", "")
	p.signIn("ann", "")
	ben := cred{cookie: p.signIn("ben", "")}
	r := p.expectAs(200, here, "GET", "/api/client/account/sessions", nil, "User-Agent", "test-agent")
	list := r.array(t)
	if len(list) != 3 || strings.Contains(string(r.body), here.cookie) {
		t.Fatalf("sessions = %s", r.body)
	}
	var current, other string
	for _, se := range list {
		hasKeys(t, "a session", se, "id", "address", "userAgent", "createdAt", "lastSeenAt", "expiresAt", "current")
		if se["current"] == true {
			current = se["id"].(string)
		} else {
			other = se["id"].(string)
		}
	}
	if current == "" || other == "" {
		t.Fatalf("no current session marked: %s", r.body)
	}
	p.expectAs(404, ben, "DELETE", "/api/client/account/sessions/"+other, nil)
	p.expectAs(204, here, "DELETE", "/api/client/account/sessions/"+other, nil)
	if n := signedInSessions(t, p.st, id); n != 2 {
		t.Errorf("%d sessions after ending one, want 2", n)
	}
	p.expectAs(204, here, "DELETE", "/api/client/account/sessions", nil)
	if n := signedInSessions(t, p.st, id); n != 1 {
		t.Errorf("%d sessions after ending the others, want 1", n)
	}
	p.expectAs(200, here, "GET", "/api/client/account", nil)
	p.expectAs(200, ben, "GET", "/api/client/account", nil)
}

// authorizedKey is a new ed25519 key as an authorized_keys line.
func authorizedKey(t *testing.T, comment string) (string, ssh.PublicKey) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " " + comment, key
}

func TestSSHKeysAreCheckedListedAndDeleted(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	p.addUser("ben", false)
	s := cred{cookie: p.signIn("ann", "")}
	line, key := authorizedKey(t, "ann@laptop")
	made := p.expectAs(201, s, "POST", "/api/client/account/ssh-keys", map[string]any{"publicKey": line}).object(t)
	if made["name"] != "ann@laptop" || made["fingerprint"] != ssh.FingerprintSHA256(key) || !strings.HasPrefix(made["publicKey"].(string), "ssh-ed25519 ") {
		t.Errorf("added key = %v", made)
	}
	p.expectAs(409, s, "POST", "/api/client/account/ssh-keys", map[string]any{"publicKey": line, "name": "again"})

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakKey, _ := ssh.NewPublicKey(&weak.PublicKey)
	other, _ := authorizedKey(t, "")
	for what, body := range map[string]map[string]any{
		"no key":         {},
		"not a key":      {"publicKey": "ssh-ed25519 not-base64!"},
		"a private key":  {"publicKey": "-----BEGIN OPENSSH PRIVATE KEY-----"},
		"options":        {"publicKey": `command="sh" ` + other},
		"two keys":       {"publicKey": other + "\n" + line},
		"a 1024-bit RSA": {"publicKey": string(ssh.MarshalAuthorizedKey(weakKey))},
	} {
		r := p.expectAs(400, s, "POST", "/api/client/account/ssh-keys", body)
		if !strings.HasPrefix(r.errorMessage(t), "publicKey:") {
			t.Errorf("%s: %s, want a message naming publicKey", what, r.body)
		}
	}
	list := p.expectAs(200, s, "GET", "/api/client/account/ssh-keys", nil).array(t)
	if len(list) != 1 || list[0]["id"] != made["id"] {
		t.Errorf("keys = %v", list)
	}
	id := made["id"].(string)
	p.expectAs(404, cred{cookie: p.signIn("ben", "")}, "DELETE", "/api/client/account/ssh-keys/"+id, nil)
	p.expectAs(204, s, "DELETE", "/api/client/account/ssh-keys/"+id, nil)
	if list := p.expectAs(200, s, "GET", "/api/client/account/ssh-keys", nil).array(t); len(list) != 0 {
		t.Errorf("keys after delete = %v", list)
	}
}
