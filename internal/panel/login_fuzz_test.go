package panel_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
)

// FuzzLoginBody posts arbitrary sign-in bodies, JSON or form-encoded, to
// POST /auth/login over a real database holding a user with two-factor
// and one without: the answer is never a 5xx (a panic would be one), and
// is JSON, with an error message whenever it refuses, and matches the
// OpenAPI document.
func FuzzLoginBody(f *testing.F) {
	p, clock := newClockPanel(f, panel.Config{})
	p.addUser("plain", false)
	p.addUser("guarded", false)
	_, codes := p.enableTwoFactor(clock, p.signIn("guarded", ""))
	for _, seed := range []struct {
		body string
		form bool
	}{
		{`{"username":"plain","password":"` + userPassword + `"}`, false},
		{`{"username":"plain@example.com","password":"` + userPassword + `"}`, false},
		{`{"username":"plain","password":"wrong"}`, false},
		{`{"username":"guarded","password":"` + userPassword + `"}`, false},
		{`{"username":"guarded","password":"` + userPassword + `","code":"123456"}`, false},
		{`{"username":"guarded","password":"` + userPassword + `","code":"` + codes[0] + `"}`, false},
		{`{"username":"guarded","password":"` + userPassword + `","code":123456}`, false},
		{`{"username":null,"password":null}`, false},
		{`{"username":["plain"],"password":{"a":1}}`, false},
		{`{"username":"plain\u0000","password":"` + userPassword + `"}`, false},
		{`["plain"]`, false},
		{`{"username":`, false},
		{"", false},
		{"username=plain&password=correct+horse+battery", true},
		{"username=plain&password=%ZZ", true},
	} {
		f.Add([]byte(seed.body), seed.form)
	}
	f.Fuzz(func(t *testing.T, body []byte, form bool) {
		// Each try comes a while after the last, so that throttling, which
		// is allowed to answer, does not answer all of them.
		clock.advance(time.Hour)
		req := httptest.NewRequest("POST", "/auth/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		// Served past the contract wrapper, which reports to the fuzz
		// setup's F; the answer is checked against the document here,
		// on this try's t.
		rec := httptest.NewRecorder()
		p.handler.next.ServeHTTP(rec, req)
		p.handler.check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s\nlog:\n%s", body, rec.Code, rec.Body, p.logs.String())
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%q: answer is not a JSON object: %q", body, rec.Body)
		}
		if msg, _ := answer["error"].(string); rec.Code >= 400 && msg == "" {
			t.Fatalf("%q: %d without an error message: %s", body, rec.Code, rec.Body)
		}
		if rec.Code == 200 && answer["user"] == nil {
			t.Fatalf("%q: 200 without the user: %s", body, rec.Body)
		}
	})
}
