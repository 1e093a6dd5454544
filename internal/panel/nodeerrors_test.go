package panel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
)

// failingNode is a stub node whose every call fails with the answer set
// last.
type failingNode struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	body   nodeapi.ErrorBody
	// retryAfter, when set, is sent as the Retry-After header.
	retryAfter string
}

func newFailingNode(t *testing.T) *failingNode {
	t.Helper()
	n := &failingNode{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n.retryAfter != "" {
			w.Header().Set("Retry-After", n.retryAfter)
		}
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
	node, _ := registerStub(t, p, stub.srv)
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
	stub := newFailingNode(t)
	node, _ := registerStub(t, p, stub.srv)
	id := p.deploy(deployBody(p.createUser("owner"), node, "25565", "25565"))
	stub.mu.Lock()
	stub.retryAfter = "17"
	stub.mu.Unlock()
	stub.answer(http.StatusTooManyRequests, nodeapi.ErrorBody{Error: "at most 6 extractions a minute", Kind: fault.TooMany.String()})
	r := p.call("POST", "/api/instances/files/"+id+"/extract", map[string]any{"path": "a.zip"})
	if r.code != 429 || r.header.Get("Retry-After") != "17" {
		t.Fatalf("extract past the node's cap: %d Retry-After %q, want 429 and 17", r.code, r.header.Get("Retry-After"))
	}
}

func TestANodeThatDoesNotAnswerReadsAsUnreachable(t *testing.T) {
	p := newPanel(t, panel.Config{})
	stub := newFailingNode(t)
	node, _ := registerStub(t, p, stub.srv)
	id := p.deploy(deployBody(p.createUser("owner"), node, "25565", "25565"))
	stub.srv.Close()
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
