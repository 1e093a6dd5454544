package panel_test

import (
	"context"
	"encoding/json"
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
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/store"
)

// testPrincipalHeader names, in tests alone, a principal the test set up:
// the stand-in for a user's session or token on /api/client until those
// exist on this branch. The panel never reads it; withPrincipals does.
const testPrincipalHeader = "X-Test-Principal"

// withPrincipals serves h with the principal a request names in
// testPrincipalHeader placed in its context, as the panel's own
// authentication of sessions and tokens will.
func withPrincipals(t testing.TB, h http.Handler, principals map[string]access.Principal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := r.Header.Get(testPrincipalHeader); name != "" {
			p, ok := principals[name]
			if !ok {
				t.Errorf("the test names an unknown principal %q", name)
				w.WriteHeader(http.StatusTeapot)
				return
			}
			r = r.WithContext(access.WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(w, r)
	})
}

// clientPanel is a panel served over HTTP with test principals, a stub
// node, and users made straight in the store (no password hashing: they
// never sign in here).
type clientPanel struct {
	*testPanel
	url        string
	principals map[string]access.Principal
	node       *anyNode
	nodeID     string
}

func newClientPanel(t *testing.T) *clientPanel {
	t.Helper()
	return newClientPanelOn(t, newPanel(t, panel.Config{}))
}

func newClientPanelOn(t *testing.T, p *testPanel) *clientPanel {
	t.Helper()
	c := &clientPanel{testPanel: p, principals: map[string]access.Principal{}}
	srv := httptest.NewServer(withPrincipals(t, p.handler, c.principals))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	c.node = newAnyNode(t)
	c.nodeID, _ = registerStub(t, p, c.node.srv)
	return c
}

// user stores a user named name and returns its id.
func (c *clientPanel) user(name string, admin bool) string {
	c.t.Helper()
	id := store.NewID(8)
	if err := c.st.CreateUser(context.Background(), store.User{ID: id, Username: name, Email: name + "@example.com",
		PasswordHash: "$argon2id$unused", Admin: admin, CreatedAt: time.Now()}); err != nil {
		c.t.Fatalf("create user %s: %v", name, err)
	}
	return id
}

// as registers a principal under name, for requests to send as it.
func (c *clientPanel) as(name string, p access.Principal) string {
	c.principals[name] = p
	return name
}

// session is a signed-in session of user.
func session(userID string) access.Principal {
	return access.Principal{Kind: access.Session, CredentialID: "s-" + userID, UserID: userID}
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
	// as names the principal, "" none; key sends an admin API key.
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
	if req.as != "" {
		hr.Header.Set(testPrincipalHeader, req.as)
	}
	if req.key != "" {
		hr.Header.Set("x-api-key", req.key)
	}
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

// expectAs sends a request as a principal and fails unless it gets code.
func (c *clientPanel) expectAs(code int, as, method, path string, body any) response {
	c.t.Helper()
	r := c.do(clientRequest{method: method, path: path, as: as, body: body})
	if r.code != code {
		c.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, as, r.code, code, r.body)
	}
	return r
}

// dialConsoleAs opens an instance's client console as a principal; it
// returns the handshake's status when the panel refuses it.
func (c *clientPanel) dialConsoleAs(as, key, id string) (*websocket.Conn, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	h := http.Header{}
	if as != "" {
		h.Set(testPrincipalHeader, as)
	}
	if key != "" {
		h.Set("x-api-key", key)
	}
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
