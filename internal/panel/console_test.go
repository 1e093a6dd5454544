package panel_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
)

// readyInstance deploys an instance of a template stopped by "stop" on
// the daemon n, the panel's node nodeID, applied and running as the
// reconciler would leave it, and returns its id and the spec applied.
func readyInstance(t *testing.T, p *testPanel, nodeID string, n *nodetest.Node) (string, nodeapi.InstanceSpec) {
	t.Helper()
	tmpl := images.Template{Name: "Stoppable", Image: "ghcr.io/berth-dev/game:1", StopCommand: "stop"}
	body := deployBody(p.createUser("owner"), nodeID, "25565", "25565")
	body["image"] = addTemplate(t, p.st, tmpl)
	id := p.deploy(body)
	return id, applyOnNode(t, p, n, id)
}

// stdin returns what the instance's server was written on its standard
// input so far: console lines, and the stop command of a stop.
func stdin(n *nodetest.Node, id string) []string {
	c, _ := n.Runtime.Container(id)
	return c.Stdin
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

func TestConsoleStopCommandGoesThroughTheDesiredState(t *testing.T) {
	p := newPanel(t, panel.Config{})
	nodeID, n := startNode(t, p)
	id, applied := readyInstance(t, p, nodeID, n)
	before, err := p.st.InstanceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := p.serve(t)
	conn := dialConsole(t, p, addr, id)

	// Any other line goes on to the server.
	sendCommand(t, conn, "say hello")
	waitUntil(t, "the line on the server's input", func() bool { return len(stdin(n, id)) > 0 })
	sendCommand(t, conn, "  STOP ")
	waitUntil(t, "the server to stop or get the line", func() bool {
		c, _ := n.Runtime.Container(id)
		return !c.State.Running || len(c.Stdin) > 1
	})
	// The node stopped the server with the template's stop command, and
	// the typed line never reached it.
	if got := stdin(n, id); !slices.Equal(got, []string{"say hello", "stop"}) || n.Runtime.Calls("Stop") != 1 {
		t.Errorf("the server's input is %q after %d stops, want the line and the stop command of one stop",
			got, n.Runtime.Calls("Stop"))
	}
	after, err := p.st.InstanceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Desired != nodeapi.DesiredStopped || after.Generation <= before.Generation {
		t.Errorf("after a typed stop: desired %s at generation %d, want stopped after generation %d",
			after.Desired, after.Generation, before.Generation)
	}
	// The node was told the generation of that desire: the reconciler's
	// ensure from before it cannot start the server again.
	expectStaleEnsureIgnored(t, n, applied, false)
}

func TestPanelShutdownClosesAnOpenConsole(t *testing.T) {
	p := newPanel(t, panel.Config{})
	nodeID, n := startNode(t, p)
	id, _ := readyInstance(t, p, nodeID, n)
	addr, stop := p.serve(t)
	conn := dialConsole(t, p, addr, id)
	// The proxy is up once a command reaches the server.
	sendCommand(t, conn, "list")
	waitUntil(t, "the line on the server's input", func() bool { return slices.Contains(stdin(n, id), "list") })

	stop()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	// The frames the node sent before (status, output) come first.
	var err error
	for err == nil {
		_, _, err = conn.Read(ctx)
	}
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("the console stayed open after the panel shut down")
		}
		t.Fatalf("console ended with %v, want a going-away close", err)
	}
}
