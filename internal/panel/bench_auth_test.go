package panel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkAuthGetInstance measures what a user's credential costs over an
// admin key: the same read (POST /api/getInstance on the 10,000-instance
// database) by an admin API key, by an admin user's session cookie and by
// that user's personal access token, in one run, in-process.
//
//	go test -run '^$' -bench 'AuthGetInstance' -benchtime 20000x ./internal/panel/
func BenchmarkAuthGetInstance(b *testing.B) {
	st, key, id := benchStore(b)
	base, key := benchTarget(b, st, key)
	req := benchRequest{"POST", "/api/getInstance", `{"id":"` + id + `"}`}
	session, token := benchUserCredentials(b, base, key)
	for _, c := range []int{benchConcurrency, 1} {
		for _, cred := range []struct{ name, key string }{{"key", key}, {"session", session}, {"token", token}} {
			b.Run(fmt.Sprintf("%s/c%d", cred.name, c), func(b *testing.B) { runLoad(b, base, cred.key, req, c) })
		}
	}
}

// benchUserCredentials makes an admin user (once per database), signs it
// in, and gives it a token: the session as "session=VALUE", and the token.
func benchUserCredentials(b *testing.B, base, key string) (session, token string) {
	b.Helper()
	call := func(cred, method, path, body string) *http.Response {
		resp, err := benchRequest{method, path, body}.do(http.DefaultClient, base, cred)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	const name, password = "bench-admin", "correct horse battery"
	resp := call(key, "POST", "/api/auth/create-user",
		`{"username":"`+name+`","email":"bench-admin@example.com","password":"`+password+`","admin":true}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusConflict {
		b.Fatalf("create the admin user: %d", resp.StatusCode)
	}
	resp = call("", "POST", "/auth/login", `{"username":"`+name+`","password":"`+password+`"}`)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			session = "session=" + ck.Value
		}
	}
	if resp.StatusCode != http.StatusOK || session == "" {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	resp = call(session, "POST", "/api/client/account/tokens", `{"name":"bench"}`)
	defer resp.Body.Close()
	var created struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || !strings.HasPrefix(created.Token, tokenPrefix) {
		b.Fatalf("create a token: %d %v", resp.StatusCode, err)
	}
	return session, created.Token
}
