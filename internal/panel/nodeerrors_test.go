package panel_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
)

// failingNode is a stub node whose every call fails with the answer set
// last. It stays a stub, where the other tests run a real daemon, because
// no daemon answers this way: the daemon's kind always agrees with its
// status, it names no kind its routes do not produce, and it always names
// one; only a stub can show that the panel goes by the kind, and by the
// status when an older node sends none.
type failingNode struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	body   nodeapi.ErrorBody
}

func newFailingNode(t *testing.T) *failingNode {
	t.Helper()
	n := &failingNode{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(n.status)
		_ = json.NewEncoder(w).Encode(n.body)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

func (n *failingNode) answer(status int, body nodeapi.ErrorBody) {
	n.mu.Lock()
	n.status, n.body = status, body
	n.mu.Unlock()
}

func TestEveryFaultKindOfANodeAnswerReachesThePanelsStatus(t *testing.T) {
	p := newPanel(t, panel.Config{})
	stub := newFailingNode(t)
	node, _ := registerNode(t, p, stub.srv.Listener.Addr().(*net.TCPAddr).Port)
	id := p.deploy(deployBody(p.createUser("owner"), node, "25565", "25565"))
	want := map[fault.Kind]int{
		fault.Invalid: 400, fault.NotExist: 404, fault.Exist: 409, fault.Conflict: 409, fault.Permission: 403,
		fault.Unavailable: 503, fault.TooLarge: 413, fault.TooMany: 429,
		// A failure the node does not explain: the node is not usable now.
		fault.Other: 503,
	}
	for _, k := range fault.Kinds() {
		// The status says something else: the kind decides.
		stub.answer(http.StatusTeapot, nodeapi.ErrorBody{Error: "the node's words", Kind: k.String()})
		for _, path := range []string{"/api/instances/logs/" + id, "/api/instances/files/" + id + "?path=x"} {
			r := p.call("GET", path, nil)
			msg := r.errorMessage(t)
			if r.code != want[k] || !strings.Contains(msg, "the node's words") {
				t.Errorf("kind %s, %s: %d %q, want %d with the node's words", k, path, r.code, msg, want[k])
			}
			if strings.Contains(msg, "/v1/") || strings.Contains(msg, "status 418") {
				t.Errorf("kind %s, %s: the answer %q carries the node's request", k, path, msg)
			}
		}
	}
	// A node too old to send kinds: the status stands for one.
	stub.answer(http.StatusConflict, nodeapi.ErrorBody{Error: "instance is suspended"})
	p.expectError(409, "GET", "/api/instances/logs/"+id, nil, "instance is suspended")
}

func TestANodesRetryAfterReachesTheCaller(t *testing.T) {
	p := newPanel(t, panel.Config{})
	// The node's clock stands still: the window of its extraction cap
	// is a whole minute away.
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	nodeID, n := startNode(t, p, func(cfg *node.Config) {
		cfg.Files.MaxExtractsPerMinute = 1
		cfg.Now = func() time.Time { return now }
	})
	id := p.deploy(deployBody(p.createUser("owner"), nodeID, "25565", "25565"))
	applyOnNode(t, p, n, id)
	// The first extraction takes the node's one a minute (and fails,
	// as there is no such archive); the second is past the cap.
	p.expect(404, "POST", "/api/instances/files/"+id+"/extract", map[string]any{"path": "a.zip"})
	r := p.call("POST", "/api/instances/files/"+id+"/extract", map[string]any{"path": "a.zip"})
	if r.code != 429 || r.header.Get("Retry-After") != "60" {
		t.Fatalf("extract past the node's cap: %d Retry-After %q, want 429 and 60", r.code, r.header.Get("Retry-After"))
	}
	if msg := r.errorMessage(t); !strings.Contains(msg, "at most 1 a minute") {
		t.Errorf("extract past the node's cap: %q, want the node's words", msg)
	}
}

func TestANodeThatDoesNotAnswerReadsAsUnreachable(t *testing.T) {
	p := newPanel(t, panel.Config{})
	node, n := startNode(t, p)
	id := p.deploy(deployBody(p.createUser("owner"), node, "25565", "25565"))
	applyOnNode(t, p, n, id)
	n.Stop()
	msg := p.expectError(503, "GET", "/api/instances/logs/"+id, nil, "node unreachable")
	if strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "/v1/") {
		t.Errorf("the answer %q carries the node's address or request", msg)
	}
}

func TestACallerHangingUpIsNotLoggedAsAnError(t *testing.T) {
	p := newPanel(t, panel.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/api/instances", nil).WithContext(ctx)
	req.Header.Set("x-api-key", p.key)
	p.handler.ServeHTTP(httptest.NewRecorder(), req)
	if logs := p.logs.String(); strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "caller_gone=true") {
		t.Errorf("log = %q, want the request marked caller_gone and no error", logs)
	}
}
