package nodeapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

const token = "secret-token-0123456789abcdef0123456789abcdef"

// seen is one request as the fake node received it.
type seen struct {
	method, path, rawQuery, auth string
	body                         string
}

// fakeNode answers every request with status and body, remembering it.
func fakeNode(t *testing.T, status int, body string) (*httptest.Server, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), string(b)})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func testSpec() InstanceSpec {
	return InstanceSpec{ID: "mc-1", Generation: 2, Image: "img:1", MemoryMiB: 512, CPU: 1,
		Ports: []Port{{Container: 25565, Host: 25565}}, PrimaryPort: 25565, Desired: DesiredRunning}
}

func TestClientCallsEachRoute(t *testing.T) {
	statusBody := `{"id":"mc-1","generation":2,"status":"running","running":true}`
	cases := []struct {
		name       string
		answer     string
		call       func(c *Client) (any, error)
		method     string
		path       string
		query      string
		wantInBody string
		check      func(t *testing.T, got any)
	}{
		{"health", `{"version":"v1","docker":true,"instances":3}`,
			func(c *Client) (any, error) { return c.Health(context.Background()) },
			"GET", "/v1/health", "", "",
			func(t *testing.T, got any) {
				if h := got.(Health); !h.Docker || h.Instances != 3 || h.Version != "v1" {
					t.Errorf("health = %+v", h)
				}
			}},
		{"list", `[` + statusBody + `]`,
			func(c *Client) (any, error) { return c.ListInstances(context.Background()) },
			"GET", "/v1/instances", "", "",
			func(t *testing.T, got any) {
				if l := got.([]InstanceStatus); len(l) != 1 || l[0].ID != "mc-1" {
					t.Errorf("list = %+v", l)
				}
			}},
		{"get", statusBody,
			func(c *Client) (any, error) { return c.GetInstance(context.Background(), "mc-1") },
			"GET", "/v1/instances/mc-1", "", "",
			func(t *testing.T, got any) {
				if s := got.(InstanceStatus); s.Status != StatusRunning || s.Generation != 2 {
					t.Errorf("status = %+v", s)
				}
			}},
		{"ensure", statusBody,
			func(c *Client) (any, error) { return c.EnsureInstance(context.Background(), testSpec()) },
			"PUT", "/v1/instances/mc-1", "", `"memoryMiB":512`,
			func(t *testing.T, got any) {
				if s := got.(InstanceStatus); !s.Running {
					t.Errorf("status = %+v", s)
				}
			}},
		{"remove", ``,
			func(c *Client) (any, error) { return nil, c.RemoveInstance(context.Background(), "mc-1") },
			"DELETE", "/v1/instances/mc-1", "", "", nil},
		{"power", statusBody,
			func(c *Client) (any, error) {
				return c.RequestPower(context.Background(), "mc-1", PowerRequest{Action: ActionRestart})
			},
			"POST", "/v1/instances/mc-1/power", "", `{"action":"restart"}`, nil},
		{"logs", `{"lines":["a","b"]}`,
			func(c *Client) (any, error) { return c.Logs(context.Background(), "mc-1", 50) },
			"GET", "/v1/instances/mc-1/logs", "tail=50", "",
			func(t *testing.T, got any) {
				if l := got.([]string); len(l) != 2 || l[1] != "b" {
					t.Errorf("lines = %q", l)
				}
			}},
		{"logs default tail", `{"lines":[]}`,
			func(c *Client) (any, error) { return c.Logs(context.Background(), "mc-1", 0) },
			"GET", "/v1/instances/mc-1/logs", "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status := http.StatusOK
			if tc.method == "DELETE" {
				status = http.StatusNoContent
			}
			srv, got := fakeNode(t, status, tc.answer)
			// A trailing slash on the base URL must not double the slash.
			c := NewClient(srv.URL+"/", token, nil)
			v, err := tc.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(*got) != 1 {
				t.Fatalf("node saw %d requests", len(*got))
			}
			r := (*got)[0]
			if r.method != tc.method || r.path != tc.path || r.rawQuery != tc.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.method, r.path, r.rawQuery, tc.method, tc.path, tc.query)
			}
			if r.auth != "Bearer "+token {
				t.Errorf("Authorization = %q", r.auth)
			}
			if strings.Contains(r.path+r.rawQuery, token) {
				t.Error("token in the URL")
			}
			if !strings.Contains(r.body, tc.wantInBody) {
				t.Errorf("body %q lacks %q", r.body, tc.wantInBody)
			}
			if tc.check != nil {
				tc.check(t, v)
			}
		})
	}
}

func TestClientTurnsNon2xxIntoError(t *testing.T) {
	cases := []struct {
		status             int
		body               string
		wantMsg            string
		notFound, conflict bool
		image              bool
	}{
		{404, `{"error":"instance not found"}`, "instance not found", true, false, false},
		{409, `{"error":"instance is suspended"}`, "instance is suspended", false, true, false},
		{422, `{"error":"runtime: image unavailable: manifest unknown"}`, "runtime: image unavailable: manifest unknown", false, false, true},
		{500, `<html>oops</html>`, "Internal Server Error", false, false, false},
		{401, ``, "Unauthorized", false, false, false},
		{302, ``, "Found", false, false, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv, _ := fakeNode(t, tc.status, tc.body)
			_, err := NewClient(srv.URL, token, nil).GetInstance(context.Background(), "x")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *Error", err)
			}
			if e.Status != tc.status || e.Message != tc.wantMsg {
				t.Errorf("error = %+v, want %d %q", e, tc.status, tc.wantMsg)
			}
			if IsNotFound(err) != tc.notFound || IsConflict(err) != tc.conflict || IsImageError(err) != tc.image {
				t.Errorf("IsNotFound=%v IsConflict=%v IsImageError=%v", IsNotFound(err), IsConflict(err), IsImageError(err))
			}
			// The text is the node's own words, fit for a user; the call
			// is kept for the logs.
			if err.Error() != tc.wantMsg || e.Op != "GET /v1/instances/x" {
				t.Errorf("error text = %q, op %q", err, e.Op)
			}
		})
	}
	if IsNotFound(errors.New("plain")) || IsNotFound(nil) {
		t.Error("IsNotFound true for a non-*Error")
	}
}

func TestClientReadsTheKindOfAnErrorBodyOverItsStatus(t *testing.T) {
	for _, k := range fault.Kinds() {
		body := `{"error":"the node's words","kind":"` + k.String() + `"}`
		// A status that means something else: the kind decides.
		srv, _ := fakeNode(t, http.StatusTeapot, body)
		_, err := NewClient(srv.URL, token, nil).GetInstance(context.Background(), "x")
		if fault.KindOf(err) != k || err.Error() != "the node's words" {
			t.Errorf("%s: kind %v, text %q", body, fault.KindOf(err), err)
		}
		if k != fault.Other && fault.Message(err) != "the node's words" {
			t.Errorf("%s: fault.Message = %q", body, fault.Message(err))
		}
	}
}

func TestClientErrorWithoutAnAnswerSaysNodeUnreachableWithoutTheRequestLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewClient("http://"+addr, token, nil).GetInstance(context.Background(), "x")
	if err == nil || err.Error() != "node unreachable" || !fault.Is(err, fault.Unavailable) {
		t.Errorf("error = %q (kind %v), want node unreachable", err, fault.KindOf(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewClient("http://"+addr, token, nil).GetInstance(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("a call its caller gave up on: %v, want context.Canceled in the chain", err)
	}
}

func TestClientNeverRevealsToken(t *testing.T) {
	// A port nobody listens on: the transport error must not carry the token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := NewClient("http://"+addr, token, nil)
	_, err = c.Health(context.Background())
	if err == nil {
		t.Fatal("health against a closed port succeeded")
	}
	for _, s := range []string{err.Error(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, token) {
			t.Errorf("token revealed in %q", s)
		}
	}
}

func TestClientRefusesBadInstanceIDsWithoutCalling(t *testing.T) {
	srv, got := fakeNode(t, 200, `{}`)
	c := NewClient(srv.URL, token, nil)
	for _, id := range []string{"", "../health", "a/b", "a?b", strings.Repeat("x", 65)} {
		if _, err := c.GetInstance(context.Background(), id); err == nil {
			t.Errorf("GetInstance(%q) succeeded", id)
		}
		if err := c.RemoveInstance(context.Background(), id); err == nil {
			t.Errorf("RemoveInstance(%q) succeeded", id)
		}
	}
	if len(*got) != 0 {
		t.Errorf("node saw %d requests for invalid ids", len(*got))
	}
}

// deadlineRecorder is a transport that notes the deadline of each request.
type deadlineRecorder struct {
	deadlines []time.Time
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	dl, _ := r.Context().Deadline()
	d.deadlines = append(d.deadlines, dl)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{}`)), Header: http.Header{}, Request: r}, nil
}

func TestClientAppliesDefaultTimeoutOnlyWithoutDeadline(t *testing.T) {
	rec := &deadlineRecorder{}
	c := NewClient("http://node.invalid", token, nil)
	c.http.Transport = rec

	start := time.Now()
	c.Health(context.Background())
	c.EnsureInstance(context.Background(), testSpec())
	mine, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	c.Health(mine)

	if len(rec.deadlines) != 3 {
		t.Fatalf("%d requests", len(rec.deadlines))
	}
	within := func(dl time.Time, d time.Duration) bool {
		return !dl.IsZero() && !dl.Before(start.Add(d)) && dl.Before(time.Now().Add(d))
	}
	if !within(rec.deadlines[0], healthTimeout) {
		t.Errorf("health deadline %v, want about %v from now", rec.deadlines[0], healthTimeout)
	}
	if !within(rec.deadlines[1], ensureTimeout) {
		t.Errorf("ensure deadline %v, want about %v from now", rec.deadlines[1], ensureTimeout)
	}
	if want, _ := mine.Deadline(); !rec.deadlines[2].Equal(want) {
		t.Errorf("caller's deadline replaced: %v, want %v", rec.deadlines[2], want)
	}
}

func TestClientTimesOutOnASilentNode(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := NewClient(srv.URL, token, nil).ListInstances(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var elsewhere int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere++ }))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/v1/health", http.StatusTemporaryRedirect))
	defer srv.Close()
	_, err := NewClient(srv.URL, token, nil).Health(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTemporaryRedirect || elsewhere != 0 {
		t.Errorf("err = %v, redirect target hit %d times", err, elsewhere)
	}
}

func TestClientSpeaksHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"version":"tls","docker":true}`)
	}))
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h, err := NewClient(srv.URL, token, &tls.Config{RootCAs: pool}).Health(context.Background())
	if err != nil || h.Version != "tls" {
		t.Fatalf("health over TLS: %+v %v", h, err)
	}
	if _, err := NewClient(srv.URL, token, nil).Health(context.Background()); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}

func TestConfigurePostsKeyInBody(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), string(b)}
		json.NewEncoder(w).Encode(ConfigureResponse{NodeID: "n1", Token: token, Address: "10.0.0.5", Port: 8081})
	}))
	defer srv.Close()

	resp, err := Configure(context.Background(), srv.URL+"/", "cfg-key")
	if err != nil {
		t.Fatal(err)
	}
	if resp.NodeID != "n1" || resp.Token != token || resp.Port != 8081 || resp.Address != "10.0.0.5" {
		t.Errorf("response = %+v", resp)
	}
	if got.method != "POST" || got.path != "/nodes/configure" || got.rawQuery != "" || got.auth != "" {
		t.Errorf("request = %+v", got)
	}
	var body ConfigureRequest
	if err := json.Unmarshal([]byte(got.body), &body); err != nil || body.ConfigureKey != "cfg-key" {
		t.Errorf("body = %q", got.body)
	}
}

func TestConfigureRejectsBadInputAndAnswers(t *testing.T) {
	for _, u := range []string{"", "panel.example", "ftp://panel", "http://"} {
		if _, err := Configure(context.Background(), u, "k"); err == nil {
			t.Errorf("panel URL %q accepted", u)
		}
	}
	answers := map[string]string{
		"no node id":  `{"token":"` + token + `","port":1}`,
		"short token": `{"nodeId":"n","token":"abc","port":1}`,
		"bad port":    `{"nodeId":"n","token":"` + token + `","port":70000}`,
		"not JSON":    `nope`,
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			srv, _ := fakeNode(t, 200, answer)
			_, err := Configure(context.Background(), srv.URL, "the-key")
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "the-key") || strings.Contains(err.Error(), token) {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
	srv, _ := fakeNode(t, 200, `{}`)
	if _, err := Configure(context.Background(), srv.URL, ""); err == nil {
		t.Error("empty key accepted")
	}
}

// TestClientsOfOneNodeShareConnections: the panel makes a client per
// request about a node, and each must reuse the kept-alive connection
// rather than open one of its own and leave it idle.
func TestClientsOfOneNodeShareConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"version":"v1","docker":true}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	for range 3 {
		if _, err := NewClient(srv.URL, token, nil).Health(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("three clients of one node opened %d connections, want 1", n)
	}
}
