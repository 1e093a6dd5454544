package panel_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// clientPanel is a panel served over HTTP with a node daemon on the fake
// runtime (startNode), and users
// made straight in the store with userPassword. Requests name a caller
// registered by sessionFor or tokenFor, and carry that caller's real
// credential: a session cookie or a personal access token.
type clientPanel struct {
	*testPanel
	url string
	// callers maps a caller's name to its credential.
	callers map[string]cred
	// node is the daemon of the panel's one node, nodeID.
	node   *nodetest.Node
	nodeID string
}

func newClientPanel(t *testing.T) *clientPanel {
	t.Helper()
	return newClientPanelOn(t, newPanel(t, panel.Config{}))
}

func newClientPanelOn(t *testing.T, p *testPanel) *clientPanel {
	t.Helper()
	c := &clientPanel{testPanel: p, callers: map[string]cred{}}
	srv := httptest.NewServer(p.handler)
	t.Cleanup(srv.Close)
	c.url = srv.URL
	c.nodeID, c.node = startNode(t, p)
	return c
}

// userPasswordHash is userPassword hashed once, for the users the client
// tests store directly: one argon2id hash, not one per user.
var userPasswordHash = sync.OnceValue(func() string { return secret.HashPassword(userPassword) })

// user stores a user named name, with userPassword, and returns its id.
func (c *clientPanel) user(name string, admin bool) string {
	c.t.Helper()
	id := store.NewID(8)
	if err := c.st.CreateUser(context.Background(), store.User{ID: id, Username: name, Email: name + "@example.com",
		PasswordHash: userPasswordHash(), Admin: admin, CreatedAt: time.Now()}); err != nil {
		c.t.Fatalf("create user %s: %v", name, err)
	}
	return id
}

// sessionFor signs username in (POST /auth/login) and registers the session
// as caller as; it returns as.
func (c *clientPanel) sessionFor(as, username string) string {
	c.t.Helper()
	r := c.do(clientRequest{method: "POST", path: "/auth/login", body: map[string]any{"username": username, "password": userPassword}})
	if r.code != 200 {
		c.t.Fatalf("sign in as %s: %d %s", username, r.code, r.body)
	}
	c.callers[as] = cred{cookie: sessionOf(c.t, r).Value}
	return as
}

// tokenFor signs username in, creates a personal access token
// (POST /api/client/account/tokens), read-only or not, and registers it as
// caller as; it returns as.
func (c *clientPanel) tokenFor(as, username string, readOnly bool) string {
	c.t.Helper()
	session := c.sessionFor(as+" (signing in)", username)
	m := c.expectAs(201, session, "POST", "/api/client/account/tokens", map[string]any{"name": as, "readOnly": readOnly}).object(c.t)
	token, _ := m["token"].(string)
	if token == "" {
		c.t.Fatalf("token answer without a token: %v", m)
	}
	c.callers[as] = cred{token: token}
	return as
}

// credentialID is the id of caller as's session or token, as the
// activity log records it.
func (c *clientPanel) credentialID(as string) string {
	c.t.Helper()
	cr := c.callers[as]
	if cr.cookie != "" {
		for _, se := range c.expectAs(200, as, "GET", "/api/client/account/sessions", nil).array(c.t) {
			if se["current"] == true {
				return se["id"].(string)
			}
		}
		c.t.Fatalf("%s's session is not listed", as)
	}
	for _, tok := range c.expectAs(200, as, "GET", "/api/client/account/tokens", nil).array(c.t) {
		if tok["name"] == as {
			return tok["id"].(string)
		}
	}
	c.t.Fatalf("%s's token is not listed", as)
	return ""
}

// variablesTemplate has an editable string, an editable bounded int and a
// variable that only an admin's deploy may set.
var variablesTemplate = images.Template{
	Name: "Tunable", Image: "ghcr.io/berth-dev/game:1", StopCommand: "stop",
	Variables: map[string]images.Variable{
		"MOTD":    {Default: "hello", Max: ptr(int64(20))},
		"PLAYERS": {Default: "10", Type: images.TypeInt, Min: ptr(int64(1)), Max: ptr(int64(100))},
		"LICENSE": {Default: "community", UserEditable: ptr(false)},
	},
}

func ptr[T any](v T) *T { return &v }

// readyInstanceOf deploys an instance of owner from variablesTemplate on
// the node, applied there and running, READY as the reconciler would
// leave it, and returns its id.
func (c *clientPanel) readyInstanceOf(owner string, port string) string {
	c.t.Helper()
	body := deployBody(owner, c.nodeID, port, port)
	ref := variablesTemplate.Name
	if _, err := c.st.TemplateByRef(context.Background(), ref); err != nil {
		ref = addTemplate(c.t, c.st, variablesTemplate)
	}
	body["image"] = ref
	id := c.deploy(body)
	applyOnNode(c.t, c.testPanel, c.node, id)
	return id
}

// grant makes user a subuser of instance holding perms, or sets its grant.
func (c *clientPanel) grant(instance, user string, perms ...access.Permission) {
	c.t.Helper()
	ctx := context.Background()
	err := c.st.AddSubuser(ctx, store.Subuser{InstanceID: instance, UserID: user, Permissions: perms, CreatedAt: time.Now()})
	if err != nil {
		err = c.st.SetSubuserPermissions(ctx, instance, user, perms, time.Now())
	}
	if err != nil {
		c.t.Fatalf("grant %v on %s to %s: %v", perms, instance, user, err)
	}
}

// clientRequest is one request to the panel over HTTP.
type clientRequest struct {
	method, path string
	// as names the caller, "" none; key sends an admin API key.
	as  string
	key string
	// body is sent as JSON unless contentType says otherwise.
	body        any
	contentType string
}

// do sends req and returns the answer.
func (c *clientPanel) do(req clientRequest) response {
	c.t.Helper()
	rd, ct := encodeBody(c.t, req.body)
	if b, ok := req.body.(string); ok && req.contentType != "" {
		rd, ct = strings.NewReader(b), req.contentType
	}
	hr, err := http.NewRequest(req.method, c.url+req.path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	c.authorize(hr.Header, req.as, req.key)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: body}
}

// authorize puts caller as's credential in h, and key as the admin API
// key; "" is none.
func (c *clientPanel) authorize(h http.Header, as, key string) {
	c.t.Helper()
	if as != "" {
		cr, ok := c.callers[as]
		if !ok {
			c.t.Fatalf("the test names an unknown caller %q", as)
		}
		switch {
		case cr.cookie != "":
			h.Add("Cookie", (&http.Cookie{Name: "berth_session", Value: cr.cookie}).String())
		case cr.token != "":
			h.Set("Authorization", "Bearer "+cr.token)
		}
	}
	if key != "" {
		h.Set("x-api-key", key)
	}
}

// expectAs sends a request as a caller and fails unless it gets code.
func (c *clientPanel) expectAs(code int, as, method, path string, body any) response {
	c.t.Helper()
	r := c.do(clientRequest{method: method, path: path, as: as, body: body})
	if r.code != code {
		c.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, as, r.code, code, r.body)
	}
	return r
}

// dialConsoleAs opens an instance's client console as a caller; it
// returns the handshake's status when the panel refuses it.
func (c *clientPanel) dialConsoleAs(as, key, id string) (*websocket.Conn, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	h := http.Header{}
	c.authorize(h, as, key)
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.url, "http")+"/api/client/instances/"+id+"/console",
		&websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			c.t.Fatalf("dial console: %v", err)
		}
		return nil, resp.StatusCode
	}
	c.t.Cleanup(func() { conn.CloseNow() })
	return conn, http.StatusSwitchingProtocols
}
