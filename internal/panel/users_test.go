package panel_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
)

var userFields = []string{"userId", "username", "email", "admin", "createdAt"}

// secretUserFields are names under which a password could slip out.
var secretUserFields = []string{"password", "passwordHash", "PasswordHash", "hash"}

func TestListUsersAnswersEveryUserWithoutSecrets(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		if got := p.expect(200, "GET", "/api/users", nil).array(t); len(got) != 0 {
			t.Fatalf("users of a new panel = %v, want []", got)
		}
		alice, bob := p.createUser("alice"), p.createUser("bob")
		list := p.expect(200, "GET", "/api/users", nil).array(t)
		byID := indexBy(t, list, "userId")
		if len(list) != 2 || byID[alice] == nil || byID[bob] == nil {
			t.Fatalf("users = %v, want alice and bob", list)
		}
		for _, u := range list {
			hasKeys(t, "user", u, userFields...)
			lacksKeys(t, "user", u, secretUserFields...)
		}
		if u := byID[alice]; u["username"] != "alice" || u["email"] != "alice@example.com" || u["admin"] != false {
			t.Errorf("alice = %v", u)
		}
	})
}

func TestCreateUserAnswers201WithTheUser(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		r := p.expect(201, "POST", "/api/auth/create-user", map[string]any{
			"username": "Alice", "email": "Alice@Example.com", "password": "correct horse", "userId": "123456789012345678", "admin": true})
		u := r.object(t)
		hasKeys(t, "created user", u, userFields...)
		lacksKeys(t, "created user", u, secretUserFields...)
		if u["userId"] != "123456789012345678" || u["username"] != "Alice" || u["email"] != "Alice@Example.com" || u["admin"] != true {
			t.Errorf("created user = %v", u)
		}
		created, err := time.Parse(time.RFC3339Nano, u["createdAt"].(string))
		if err != nil || time.Since(created) > time.Minute || time.Since(created) < -time.Second {
			t.Errorf("createdAt = %v (%v), want about now", u["createdAt"], err)
		}
		p.expectAudit("user.create", "123456789012345678")

		// Without a userId one is made: a UUID.
		gen := p.expect(201, "POST", "/api/auth/create-user", map[string]any{
			"username": "bob", "email": "bob@example.com", "password": "correct horse"}).object(t)
		if id, _ := gen["userId"].(string); len(id) != 36 || id[14] != '4' || gen["admin"] != false {
			t.Errorf("generated user = %v, want a v4 UUID and admin false", gen)
		}
		p.expectAudit("user.create", gen["userId"].(string))
	})
}

func TestCreateUserAcceptsAUserIdSentAsANumber(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		u := p.expect(201, "POST", "/api/auth/create-user",
			`{"username":"carol","email":"c@example.com","password":"correct horse","userId":123456789012345678901}`).object(t)
		if u["userId"] != "123456789012345678901" {
			t.Errorf("userId = %v, want the digits exactly as sent", u["userId"])
		}
	})
}

func TestCreateUserAcceptsAFormBody(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		u := p.expect(201, "POST", "/api/auth/create-user", url.Values{
			"username": {"dave"}, "email": {"dave@example.com"}, "password": {"correct horse"}, "admin": {"true"}, "userId": {"dave-1"}}).object(t)
		if u["userId"] != "dave-1" || u["username"] != "dave" || u["admin"] != true {
			t.Errorf("form-created user = %v", u)
		}
	})
}

func TestCreateUserKeepsThePasswordExactlyAsSent(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.expect(201, "POST", "/api/auth/create-user", map[string]any{
		"username": "erin", "email": "erin@example.com", "password": "  spaced out  "})
	u, err := p.st.UserByUsername(context.Background(), "erin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := secret.CheckPassword(u.PasswordHash, "  spaced out  "); !ok || err != nil {
		t.Errorf("the stored hash does not match the password as sent (%v)", err)
	}
	if ok, _ := secret.CheckPassword(u.PasswordHash, "spaced out"); ok {
		t.Errorf("the stored hash matches the trimmed password")
	}
}

func TestCreateUserRequiresEachFieldNamingIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.createUser("existing")
		before := p.snapshot()
		for _, field := range []string{"username", "email", "password"} {
			for _, missing := range []any{nil, "", "   "} {
				body := map[string]any{"username": "frank", "email": "frank@example.com", "password": "correct horse"}
				if missing == nil {
					delete(body, field)
				} else {
					body[field] = missing
				}
				p.expectError(400, "POST", "/api/auth/create-user", body, field, "required")
			}
		}
		p.expectError(400, "POST", "/api/auth/create-user", nil, "username", "required")
		p.expectUnchanged(before)
	})
}

func TestCreateUserRejectsInvalidFieldsNamingThem(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		before := p.snapshot()
		for _, c := range []struct {
			field string
			value any
		}{
			{"email", "not-an-email"},
			{"email", "@example.com"},
			{"email", "frank@"},
			{"email", 42},
			{"password", "short"},
			{"username", map[string]any{"a": 1}},
			{"username", true},
			{"username", "tab\there"},
			{"username", "admin\u202e"},
			{"username", "\u202agod\u202c"},
			{"username", "a\u2066b\u2069"},
			{"username", "a\u200eb"},
			{"username", "a\u200fb"},
			{"username", "a\u061cb"},
			{"username", "ad\u200bmin"},
			{"username", "\ufeffadmin"},
			{"userId", "has space"},
			{"userId", "slash/id"},
			{"admin", "maybe"},
			{"admin", 2},
		} {
			body := map[string]any{"username": "frank", "email": "frank@example.com", "password": "correct horse"}
			body[c.field] = c.value
			p.expectError(400, "POST", "/api/auth/create-user", body, c.field)
		}
		p.expectUnchanged(before)
	})
}

func TestCreateUserRejectsTakenNamesIgnoringCase(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.expect(201, "POST", "/api/auth/create-user", map[string]any{
			"username": "grace", "email": "grace@example.com", "password": "correct horse", "userId": "g1"})
		before := p.snapshot()
		for _, c := range []struct {
			field string
			body  map[string]any
		}{
			{"username", map[string]any{"username": "GRACE", "email": "other@example.com", "password": "correct horse"}},
			{"email", map[string]any{"username": "other", "email": "Grace@EXAMPLE.com", "password": "correct horse"}},
			{"userId", map[string]any{"username": "other", "email": "other@example.com", "password": "correct horse", "userId": "g1"}},
		} {
			p.expectError(409, "POST", "/api/auth/create-user", c.body, c.field)
		}
		p.expectUnchanged(before)
	})
}

func TestGetUserFindsByUsernameOrEmailIgnoringCase(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		id := p.createUser("heidi")
		want := modeCodes[p.mode].userFound
		for _, q := range []map[string]any{
			{"type": "username", "value": "heidi"},
			{"type": "username", "value": "HEIDI"},
			{"type": "email", "value": "heidi@example.com"},
			{"type": "email", "value": "Heidi@Example.COM"},
		} {
			u := p.expect(want, "POST", "/api/getUser", q).object(t)
			hasKeys(t, "user", u, userFields...)
			lacksKeys(t, "user", u, secretUserFields...)
			if u["userId"] != id || u["username"] != "heidi" {
				t.Errorf("getUser %v = %v, want heidi", q, u)
			}
		}
		p.expect(want, "POST", "/api/getUser", url.Values{"type": {"username"}, "value": {"heidi"}})
	})
}

func TestGetUserRejectsMissingOrBadParameters(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.createUser("ivan")
		p.expectError(400, "POST", "/api/getUser", map[string]any{"value": "ivan"}, "type", "required")
		p.expectError(400, "POST", "/api/getUser", map[string]any{"type": "username"}, "value", "required")
		p.expectError(400, "POST", "/api/getUser", map[string]any{"type": "username", "value": ""}, "value", "required")
		p.expectError(400, "POST", "/api/getUser", nil, "type")
		p.expectError(400, "POST", "/api/getUser", map[string]any{"type": "id", "value": "ivan"}, "type")
		p.expectError(400, "POST", "/api/getUser", map[string]any{"type": "USERNAME", "value": "ivan"}, "type")
	})
}

func TestGetUserAnswersNotFoundPerMode(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.createUser("judy")
		want := modeCodes[p.mode].notFound
		p.expectError(want, "POST", "/api/getUser", map[string]any{"type": "username", "value": "nobody"}, "not found")
		p.expectError(want, "POST", "/api/getUser", map[string]any{"type": "email", "value": "judy@example.org"}, "not found")
	})
}
