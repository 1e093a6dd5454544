package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/totp"
)

// browserPassword is the password of the users the browser tests create.
const browserPassword = "browser test password"

// webUser is a panel user a browser test signs in as.
type webUser struct {
	id, name, password string
}

// addUser creates a user through the admin API, an admin when admin holds.
func (c *cluster) addUser(name string, admin bool) webUser {
	c.tb.Helper()
	var created struct {
		UserID string `json:"userId"`
	}
	c.mustCall(http.MethodPost, "/api/auth/create-user", map[string]any{
		"username": name, "email": name + "@example.com", "password": browserPassword, "admin": admin,
	}, http.StatusCreated, &created)
	return webUser{id: created.UserID, name: name, password: browserPassword}
}

// session is a program signed in as a user with a cookie, for the account
// API that takes only a user's credential.
type session struct {
	c      *cluster
	client *http.Client
}

// signIn signs u in over HTTP, as a program would.
func (c *cluster) signIn(u webUser) *session {
	c.tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	s := &session{c: c, client: &http.Client{Timeout: requestTimeout, Jar: jar}}
	s.mustCall(http.MethodPost, "/auth/login", map[string]any{"username": u.name, "password": u.password}, http.StatusOK, nil)
	return s
}

// mustCall sends a JSON request with the session's cookie, failing the
// test unless the answer has status want; a JSON answer is decoded into out
// when out is not nil.
func (s *session) mustCall(method, path string, body any, want int, out any) {
	s.c.tb.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		s.c.tb.Fatal(err)
	}
	req, err := http.NewRequest(method, s.c.url+path, bytes.NewReader(raw))
	if err != nil {
		s.c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		s.c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.c.tb.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, answer, want)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			s.c.tb.Fatalf("%s %s: decode %s: %v", method, path, answer, err)
		}
	}
}

// enableTwoFactor sets two-factor up and on through the account API and
// returns the secret and the step of the code it used.
func (s *session) enableTwoFactor() (string, int64) {
	s.c.tb.Helper()
	var setup struct {
		Secret string `json:"secret"`
	}
	s.mustCall(http.MethodPost, "/api/client/account/2fa/setup", nil, http.StatusOK, &setup)
	step := totp.Step(time.Now())
	s.mustCall(http.MethodPost, "/api/client/account/2fa/enable", map[string]any{"code": totpCode(s.c.tb, setup.Secret, step)},
		http.StatusOK, nil)
	return setup.Secret, step
}

// totpCode is the code of secret for step.
func totpCode(tb testing.TB, secret string, step int64) string {
	tb.Helper()
	code, err := totp.Code(secret, step)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// TestBrowserSignInWithTwoFactor signs in through the form with the code of
// an authenticator app, lands on the instance list, and signs out.
func TestBrowserSignInWithTwoFactor(t *testing.T) {
	c := newCluster(t, clusterOptions{nodes: 1})
	u := c.addUser("alice", false)
	secret, used := c.signIn(u).enableTwoFactor()

	b := newBrowser(t, c.url)
	b.load("/")
	b.waitPath("/login")
	b.checkPage()
	b.fill("Username or email", u.name)
	b.fill("Password", u.password)
	b.click("Sign in")
	b.waitText("Two-factor code")
	if got := eval[string](b, "location.pathname"); got != "/login" {
		t.Fatalf("after the password alone the browser is on %s, want /login with the code field", got)
	}
	// The step of enabling is spent; the next one is within the skew.
	b.fill("Two-factor code", totpCode(t, secret, max(used+1, totp.Step(time.Now()))))
	b.click("Sign in")
	b.waitPath("/")
	b.waitText("Your instances")
	b.checkPage()

	b.signOut()
	b.load("/")
	b.waitPath("/login")
}

// TestBrowserSignInRefusesWrongPassword shows the error in the form and
// keeps what was typed.
func TestBrowserSignInRefusesWrongPassword(t *testing.T) {
	c := newCluster(t, clusterOptions{nodes: 1})
	u := c.addUser("bob", false)
	b := newBrowser(t, c.url)
	b.open("/login")
	b.fill("Username or email", u.name)
	b.fill("Password", "not the password")
	b.click("Sign in")
	b.waitFor("the form's error", `document.querySelector(".form-error").innerText.trim() !== ""`)
	if got := eval[string](b, `document.getElementById("username").value`); got != u.name {
		t.Errorf("after a refusal the username field holds %q, want %q", got, u.name)
	}
	b.checkErrors()
}

// strictLinks makes the crawl fail on a navigation link that answers 404.
// Every page of issue 9 exists now, so a dead link is a fault.
const strictLinks = true

// checkEveryPage visits, as each of users, every page the navigation links
// to and the tabs of one instance, at 1280 and 375 px, and checks each
// against the rules of every page: no error in the browser, one h1,
// labelled fields, visible focus, no horizontal scroll. New pages are
// picked up as the navigation links to them. It also checks the pages a
// stranger sees: sign-in and a page that does not exist. The caller's
// cluster holds an instance each user may open.
func checkEveryPage(t *testing.T, c *cluster, users ...webUser) {
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			b := newBrowser(t, c.url)
			b.signIn(u.name, u.password, "")
			visited := b.crawl("/")
			t.Logf("visited %d pages: %s", len(visited), strings.Join(visited, " "))
			if !strings.Contains(strings.Join(visited, " "), "/instances/") {
				t.Errorf("the crawl reached no instance page: %v", visited)
			}
		})
	}
	t.Run("stranger", func(t *testing.T) {
		b := newBrowser(t, c.url)
		b.open("/login")
		b.checkPage()
		if status := b.load("/no/such/page"); status != http.StatusNotFound {
			t.Errorf("GET /no/such/page: status %d, want 404", status)
		}
		b.checkPage()
	})
}

// crawlLinks is a JavaScript expression that gives the paths the page
// links to from its navigation (main, admin and an instance's tabs), and
// the first instance in its content.
const crawlLinks = `(() => {
	const links = [...document.querySelectorAll("nav a[href]")];
	const inst = document.querySelector("main a[href^='/instances/']");
	if (inst) links.push(inst);
	return links.filter(a => a.origin === location.origin).map(a => a.pathname + a.search);
})()`

// crawl visits start and every page reachable from it through crawlLinks,
// once each, checking each page; it returns the paths visited.
func (b *browser) crawl(start string) []string {
	b.tb.Helper()
	seen := map[string]bool{start: true}
	queue := []string{start}
	var visited []string
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		status := b.load(path)
		visited = append(visited, fmt.Sprintf("%s(%d)", path, status))
		switch {
		case status == http.StatusNotFound && !strictLinks:
			b.tb.Logf("%s answers 404: not built yet?", path)
		case status != http.StatusOK:
			b.errorf("%s: status %d, want 200", path, status)
		}
		b.checkPage()
		for _, next := range eval[[]string](b, crawlLinks) {
			if u, err := url.Parse(next); err == nil && !seen[u.Path] {
				seen[u.Path] = true
				queue = append(queue, next)
			}
		}
	}
	return visited
}
