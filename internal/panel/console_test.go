package panel_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
)

// consoleNode is a stub node with a console that records the frames it is
// sent, and a power endpoint that records the requests it gets.
type consoleNode struct {
	srv    *httptest.Server
	frames chan nodeapi.ConsoleMessage
	powers chan nodeapi.PowerRequest
}

func newConsoleNode(t *testing.T) *consoleNode {
	t.Helper()
	n := &consoleNode{frames: make(chan nodeapi.ConsoleMessage, 16), powers: make(chan nodeapi.PowerRequest, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/instances/{id}/console", stubConsole(n.frames))
	mux.HandleFunc("POST /v1/instances/{id}/power", func(w http.ResponseWriter, r *http.Request) {
		var req nodeapi.PowerRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		n.powers <- req
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(nodeapi.InstanceStatus{ID: r.PathValue("id"), Status: nodeapi.StatusStopped})
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

// readyInstance deploys an instance of a template stopped by "stop" on
// node, marked applied and running as the reconciler would, and returns
// its id.
func readyInstance(t *testing.T, p *testPanel, node string) string {
	t.Helper()
	tmpl := images.Template{Name: "Stoppable", Image: "ghcr.io/berth-dev/game:1", StopCommand: "stop"}
	body := deployBody(p.createUser("owner"), node, "25565", "25565")
	body["image"] = addTemplate(t, p.st, tmpl)
	id := p.deploy(body)
	ctx := context.Background()
	in, err := p.st.InstanceByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.st.MarkApplied(ctx, id, in.Generation, nodeapi.StatusRunning, "c1"); err != nil {
		t.Fatal(err)
	}
	return id
}

// dialConsole opens the console of instance id on the panel at addr.
func dialConsole(t *testing.T, p *testPanel, addr, id string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/instances/console/"+id,
		&websocket.DialOptions{HTTPHeader: http.Header{"x-api-key": {p.key}}})
	if err != nil {
		t.Fatalf("dial console: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// sendCommand types line on the console.
func sendCommand(t *testing.T, conn *websocket.Conn, line string) {
	t.Helper()
	data, _ := json.Marshal(line)
	frame, _ := json.Marshal(nodeapi.ConsoleMessage{Event: nodeapi.EventCommand, Data: data})
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		t.Fatalf("send %q: %v", line, err)
	}
}

// receive waits for a value on ch, failing after failBound.
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

func TestConsoleStopCommandGoesThroughTheDesiredState(t *testing.T) {
	p := newPanel(t, panel.Config{})
	stub := newConsoleNode(t)
	node, _ := registerStub(t, p, stub.srv)
	id := readyInstance(t, p, node)
	before, err := p.st.InstanceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := p.serve(t)
	conn := dialConsole(t, p, addr, id)

	sendCommand(t, conn, "  STOP ")
	var got nodeapi.PowerRequest
	select {
	case got = <-stub.powers:
	case m := <-stub.frames:
		t.Fatalf("the stop command went to the node's console as %q", m.Text())
	case <-time.After(failBound):
		t.Fatal("no power request arrived")
	}
	after, err := p.st.InstanceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Desired != nodeapi.DesiredStopped || after.Generation <= before.Generation {
		t.Errorf("after a typed stop: desired %s at generation %d, want stopped after generation %d",
			after.Desired, after.Generation, before.Generation)
	}
	if got.Action != nodeapi.ActionStop || got.Generation != after.Generation {
		t.Errorf("node got %+v, want stop at generation %d", got, after.Generation)
	}
	// Any other line goes on to the node; the stop never did.
	sendCommand(t, conn, "say hello")
	if m := receive(t, stub.frames, "console frame"); m.Text() != "say hello" {
		t.Errorf("node's console got %q first, want only %q", m.Text(), "say hello")
	}
}

func TestPanelShutdownClosesAnOpenConsole(t *testing.T) {
	p := newPanel(t, panel.Config{})
	stub := newConsoleNode(t)
	node, _ := registerStub(t, p, stub.srv)
	id := readyInstance(t, p, node)
	addr, stop := p.serve(t)
	conn := dialConsole(t, p, addr, id)
	// The proxy is up once a command reaches the node.
	sendCommand(t, conn, "list")
	receive(t, stub.frames, "console frame")

	stop()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	_, _, err := conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("the console stayed open after the panel shut down")
		}
		t.Fatalf("console ended with %v, want a going-away close", err)
	}
}
