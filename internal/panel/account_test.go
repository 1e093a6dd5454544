package panel_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"slices"
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
	if e := p.lastAudit(); e.Action != "account.password" || e.Target != id {
		t.Errorf("newest audit entry = %+v, want the password change", e)
	}
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
}

func TestSessionsAreListedAndEndedOneOrAllOthers(t *testing.T) {
	p, _ := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	p.addUser("ben", false)
	here := cred{cookie: p.signIn("ann", "")}
	second := cred{cookie: p.signIn("ann", "")}
	third := cred{cookie: p.signIn("ann", "")}
	ben := cred{cookie: p.signIn("ben", "")}
	// Each session is used, and so cached, before it is ended.
	for _, c := range []cred{second, third} {
		p.expectAs(200, c, "GET", "/api/client/account", nil)
	}
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
	// The one ended stops at once; the other goes on (and is cached
	// again).
	ended := 0
	for _, c := range []cred{second, third} {
		if p.as(c, "GET", "/api/client/account", nil).code == 401 {
			ended++
		}
	}
	if ended != 1 {
		t.Errorf("%d of the other sessions refused after ending one, want 1", ended)
	}
	p.expectAs(204, here, "DELETE", "/api/client/account/sessions", nil)
	if n := signedInSessions(t, p.st, id); n != 1 {
		t.Errorf("%d sessions after ending the others, want 1", n)
	}
	for _, c := range []cred{second, third} {
		p.expectAs(401, c, "GET", "/api/client/account", nil)
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

// TestAccountChangesAreRecordedWithTheirActor makes every change an account
// route can make, with a session and with a token, and reads the activity
// log: each change is there, with the user and the very credential that
// made it; a sign-in is the new session's act, a sign-out the ended one's.
func TestAccountChangesAreRecordedWithTheirActor(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	ann := p.addUser("ann", false)
	here := cred{cookie: p.signIn("ann", "")}
	there := cred{cookie: p.signIn("ann", "")}
	current := func(c cred) string {
		for _, se := range p.expectAs(200, c, "GET", "/api/client/account/sessions", nil).array(t) {
			if se["current"] == true {
				return se["id"].(string)
			}
		}
		t.Fatal("no current session listed")
		return ""
	}
	hereID, thereID := current(here), current(there)
	made := p.expectAs(201, here, "POST", "/api/client/account/tokens", map[string]any{"name": "cli"}).object(t)
	tokenID, tok := made["id"].(string), cred{token: made["token"].(string)}
	line, _ := authorizedKey(t, "ann@laptop")
	keyID := p.expectAs(201, tok, "POST", "/api/client/account/ssh-keys", map[string]any{"publicKey": line}).object(t)["id"].(string)
	p.expectAs(204, tok, "DELETE", "/api/client/account/ssh-keys/"+keyID, nil)
	p.expectAs(204, here, "POST", "/api/client/account/password", map[string]any{"current": userPassword, "new": "a new password"})
	// The password change ended the other session; a new one begins.
	there = cred{cookie: sessionOf(t, p.expectAs(200, cred{}, "POST", "/auth/login",
		map[string]any{"username": "ann", "password": "a new password"})).Value}
	againID := current(there)
	_, codes := p.enableTwoFactor(clock, here.cookie)
	p.expectAs(204, here, "POST", "/api/client/account/2fa/disable", map[string]any{"password": "a new password", "code": codes[0]})
	p.expectAs(204, here, "DELETE", "/api/client/account/sessions/"+againID, nil)
	p.expectAs(204, here, "DELETE", "/api/client/account/sessions", nil)
	p.expectAs(204, tok, "DELETE", "/api/client/account/tokens/"+tokenID, nil)
	p.expectAs(204, here, "POST", "/auth/logout", nil)

	list, err := p.st.AuditLog(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range slices.Backward(list) {
		if e.Action == "user.create" {
			continue
		}
		got = append(got, e.ActorKind+" "+e.CredentialID+" "+e.UserID+" "+e.Action+" "+e.Target)
	}
	session := func(id, action, target string) string {
		return "session " + id + " " + ann + " " + action + " " + target
	}
	want := []string{
		session(hereID, "account.login", ann),
		session(thereID, "account.login", ann),
		session(hereID, "account.token.create", tokenID),
		"token " + tokenID + " " + ann + " account.ssh-key.add " + keyID,
		"token " + tokenID + " " + ann + " account.ssh-key.delete " + keyID,
		session(hereID, "account.password", ann),
		session(againID, "account.login", ann),
		session(hereID, "account.2fa.setup", ann),
		session(hereID, "account.2fa.enable", ann),
		session(hereID, "account.2fa.disable", ann),
		session(hereID, "account.session.delete", againID),
		session(hereID, "account.sessions.delete", ann),
		"token " + tokenID + " " + ann + " account.token.delete " + tokenID,
		session(hereID, "account.logout", ann),
	}
	if !slices.Equal(got, want) {
		t.Errorf("activity:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
