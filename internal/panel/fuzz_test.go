package panel_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
)

// FuzzDecodeDeploy sends arbitrary deploy bodies, JSON or form-encoded,
// through the whole handler and a real database: the answer is never a 5xx
// (a panic would be one) and is always JSON. In a body, @USER@ and @NODE@
// stand for a real user and node, so that the corpus (testdata/fuzz)
// reaches the store.
func FuzzDecodeDeploy(f *testing.F) {
	p := newPanel(f, panel.Config{})
	user := p.createUser("fuzzer")
	node, _ := p.createNode("fuzz", 1<<24, 1<<30)
	addTemplate(f, p.st, paperTemplate)
	f.Fuzz(func(t *testing.T, body []byte, form bool) {
		body = bytes.ReplaceAll(body, []byte("@USER@"), []byte(user))
		body = bytes.ReplaceAll(body, []byte("@NODE@"), []byte(node))
		checkFuzzedAnswer(t, p, "/api/instances/deploy", body, form)
	})
}

// checkFuzzedAnswer posts body to path and fails on a 5xx or an answer
// that is not JSON.
func checkFuzzedAnswer(t *testing.T, p *testPanel, path string, body []byte, form bool) {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("x-api-key", p.key)
	if form {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	// Served past the contract, whose test is the fuzz target's, not t;
	// the answer is checked against the document here instead.
	p.handler.next.ServeHTTP(rec, req)
	p.handler.check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
	if rec.Code >= 500 {
		t.Fatalf("POST %s %q: %d %s\nlog:\n%s", path, body, rec.Code, rec.Body, p.logs.String())
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("POST %s %q: answer is not JSON: %q", path, body, rec.Body)
	}
	if rec.Code >= 400 {
		var e map[string]string
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e["error"] == "" {
			t.Fatalf("POST %s %q: %d without an error message: %s", path, body, rec.Code, rec.Body)
		}
	}
}
