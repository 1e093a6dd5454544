package panel_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// clientPanel is a panel served over HTTP with a stub node, and users
// made straight in the store with userPassword. Requests name a caller
// registered by sessionFor or tokenFor, and carry that caller's real
// credential: a session cookie or a personal access token.
type clientPanel struct {
	*testPanel
	url string
	// callers maps a caller's name to its credential.
	callers map[string]cred
	node    *anyNode
	nodeID  string
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
	c.node = newAnyNode(t)
	c.nodeID, _ = registerNode(t, p, c.node.srv.Listener.Addr().(*net.TCPAddr).Port)
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
// the stub node, marked READY as the reconciler would, and returns its id.
func (c *clientPanel) readyInstanceOf(owner string, port string) string {
	c.t.Helper()
	body := deployBody(owner, c.nodeID, port, port)
	ref := variablesTemplate.Name
	if _, err := c.st.TemplateByRef(context.Background(), ref); err != nil {
		ref = addTemplate(c.t, c.st, variablesTemplate)
	}
	body["image"] = ref
	id := c.deploy(body)
	ctx := context.Background()
	in, err := c.st.InstanceByID(ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.st.MarkApplied(ctx, id, in.Generation, nodeapi.StatusRunning, "c1"); err != nil {
		c.t.Fatal(err)
	}
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

// anyNode is a stub node that answers every instance call as a node that
// did it would: power with a status, files with their shapes, the console
// with a WebSocket whose frames it keeps.
type anyNode struct {
	srv    *httptest.Server
	frames chan nodeapi.ConsoleMessage
	mu     sync.Mutex
	asked  []string
}

func newAnyNode(t *testing.T) *anyNode {
	t.Helper()
	n := &anyNode{frames: make(chan nodeapi.ConsoleMessage, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/instances/{id}/console", stubConsole(n.frames))
	mux.HandleFunc("POST /v1/instances/{id}/power", func(w http.ResponseWriter, r *http.Request) {
		n.record(r)
		writeStub(w, nodeapi.InstanceStatus{ID: r.PathValue("id"), Status: nodeapi.StatusRunning, ContainerID: "c1"})
	})
	stream := func(w http.ResponseWriter, r *http.Request) {
		n.record(r)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "file bytes")
	}
	mux.HandleFunc("GET /v1/instances/{id}/files/content", stream)
	mux.HandleFunc("GET /v1/instances/{id}/files/download", stream)
	mux.HandleFunc("/v1/instances/{id}/", func(w http.ResponseWriter, r *http.Request) {
		n.record(r)
		_, _ = io.Copy(io.Discard, r.Body)
		writeStub(w, map[string]any{})
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

func (n *anyNode) record(r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.asked = append(n.asked, r.Method+" "+r.URL.Path)
}

func writeStub(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// stubConsole is a node's console WebSocket that passes every frame the
// panel sends it to frames.
func stubConsole(frames chan<- nodeapi.ConsoleMessage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			_, b, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			var m nodeapi.ConsoleMessage
			_ = json.Unmarshal(b, &m)
			select {
			case frames <- m:
			case <-r.Context().Done():
				return
			}
		}
	}
}

// receive waits, within failBound, for what ch brings.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("no %s arrived", what)
	}
	panic("unreachable")
}
