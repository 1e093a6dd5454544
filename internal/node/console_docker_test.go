package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// These tests drive instances of the test game server through the node's
// console WebSocket and power API on the real Docker engine.

// consoleWait bounds each wait for a console event.
const consoleWait = 30 * time.Second

// serveAPI serves d's API on loopback for the test and returns a client.
func serveAPI(t testing.TB, d *Daemon) *nodeapi.Client {
	t.Helper()
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return nodeapi.NewClient(srv.URL, testToken, nil)
}

// wsConsole is a test's console connection; a goroutine reads every frame
// into events.
type wsConsole struct {
	conn   *websocket.Conn
	events chan nodeapi.ConsoleMessage
	// seen keeps what waitFor passed over, for failure messages.
	seen []string
	// closed is the read error that ended events, set before it closes.
	closed error
}

func dialConsole(t *testing.T, c *nodeapi.Client, id string) *wsConsole {
	t.Helper()
	conn, err := c.DialConsole(t.Context(), id)
	if err != nil {
		t.Fatalf("dial console of %s: %v", id, err)
	}
	conn.SetReadLimit(1 << 20)
	w := &wsConsole{conn: conn, events: make(chan nodeapi.ConsoleMessage, 1<<16)}
	go func() {
		defer close(w.events)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				w.closed = err
				return
			}
			var m nodeapi.ConsoleMessage
			if err := json.Unmarshal(b, &m); err != nil {
				panic(fmt.Sprintf("console frame %q is not JSON: %v", b, err))
			}
			w.events <- m
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return w
}

// send writes one client message.
func (w *wsConsole) send(t *testing.T, event, data string) {
	t.Helper()
	raw, _ := json.Marshal(data)
	b, _ := json.Marshal(nodeapi.ConsoleMessage{Event: event, Data: raw})
	if err := w.conn.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatalf("send %s %q: %v", event, data, err)
	}
}

// waitFor consumes events until match accepts one, which it returns.
func (w *wsConsole) waitFor(t *testing.T, what string, match func(nodeapi.ConsoleMessage) bool) nodeapi.ConsoleMessage {
	t.Helper()
	timeout := time.NewTimer(consoleWait)
	defer timeout.Stop()
	for {
		select {
		case m, ok := <-w.events:
			if !ok {
				t.Fatalf("console closed before %s; last events:\n%s", what, w.tail())
			}
			if m.Event != nodeapi.EventStats {
				w.seen = append(w.seen, m.Event+" "+string(m.Data))
			}
			if match(m) {
				return m
			}
		case <-timeout.C:
			t.Fatalf("no %s on the console within %s; last events:\n%s", what, consoleWait, w.tail())
		}
	}
}

func (w *wsConsole) tail() string {
	seen := w.seen
	if len(seen) > 40 {
		seen = seen[len(seen)-40:]
	}
	return strings.Join(seen, "\n")
}

// waitOutput waits for an output line containing want.
func (w *wsConsole) waitOutput(t *testing.T, want string) string {
	t.Helper()
	return w.waitFor(t, "output "+want, func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && strings.Contains(m.Text(), want)
	}).Text()
}

// waitStatus waits for a status event saying want.
func (w *wsConsole) waitStatus(t *testing.T, want string) {
	t.Helper()
	w.waitFor(t, "status "+want, func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventStatus && m.Text() == want
	})
}

// waitError waits for an error event containing want.
func (w *wsConsole) waitError(t *testing.T, want string) string {
	t.Helper()
	return w.waitFor(t, "error "+want, func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventError && strings.Contains(m.Text(), want)
	}).Text()
}

// runGame ensures spec and waits for the game's ready line in its log.
func (n *dockerNode) runGame(t *testing.T, d *Daemon, spec nodeapi.InstanceSpec) nodeapi.InstanceStatus {
	t.Helper()
	st := ensureOK(t, d, spec)
	waitFor(t, "the game's ready line", func() bool {
		lines, err := n.rt.Logs(t.Context(), spec.ID, 50)
		return err == nil && strings.Contains(strings.Join(lines, "\n"), "Server ready on port")
	})
	return st
}

// startGame starts a daemon (its configuration adjusted by tune, when
// set), serves its API, and runs a game instance on it (its spec adjusted
// by edit, when set) until the game is ready.
func startGame(t *testing.T, tune func(*Config), edit func(*nodeapi.InstanceSpec)) (*dockerNode, *nodeapi.Client, nodeapi.InstanceSpec, nodeapi.InstanceStatus) {
	t.Helper()
	n := newTunedDockerNode(t, tune)
	c := serveAPI(t, n.d)
	spec := n.spec(t)
	if edit != nil {
		edit(&spec)
	}
	st := n.runGame(t, n.d, spec)
	return n, c, spec, st
}

func TestConsoleReplaysThenStreamsAndCarriesCommands(t *testing.T) {
	t.Parallel()
	_, c, spec, _ := startGame(t, nil, nil)

	first := dialConsole(t, c, spec.ID)
	first.send(t, nodeapi.EventCommand, "say before")
	first.waitFor(t, "the line before", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "before"
	})

	// A second client gets the replay, then the status, then live lines.
	second := dialConsole(t, c, spec.ID)
	var replay []string
	second.waitFor(t, "the status after the replay", func(m nodeapi.ConsoleMessage) bool {
		if m.Event == nodeapi.EventOutput {
			replay = append(replay, m.Text())
		}
		return m.Event == nodeapi.EventStatus
	})
	joined := strings.Join(replay, "\n")
	if !strings.Contains(joined, "Server ready on port") || !strings.Contains(joined, "before") {
		t.Errorf("replay lacks the ready line or the line before:\n%s", joined)
	}
	if strings.Index(joined, "Server ready on port") > strings.LastIndex(joined, "before") {
		t.Errorf("replay is out of order:\n%s", joined)
	}
	second.send(t, nodeapi.EventCommand, "say hello")
	second.waitFor(t, "the line hello", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "hello"
	})
	// The first client sees it live too.
	first.waitFor(t, "the line hello on the first client", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "hello"
	})

	for _, bad := range []string{"", "say a\nstop", strings.Repeat("x", console.MaxCommandBytes+1)} {
		second.send(t, nodeapi.EventCommand, bad)
		second.waitFor(t, "a refusal of a malformed command", func(m nodeapi.ConsoleMessage) bool {
			return m.Event == nodeapi.EventError && strings.Contains(m.Text(), "command")
		})
	}
	second.send(t, "dance", "now")
	second.waitError(t, "unknown event")
}

// waitClosed waits for the server to close the connection and returns
// its close frame's status and reason.
func (w *wsConsole) waitClosed(t *testing.T) (websocket.StatusCode, string) {
	t.Helper()
	timeout := time.After(consoleWait)
	for {
		select {
		case _, ok := <-w.events:
			if !ok {
				var ce websocket.CloseError
				if !errors.As(w.closed, &ce) {
					t.Fatalf("console ended without a close frame: %v", w.closed)
				}
				return ce.Code, ce.Reason
			}
		case <-timeout:
			t.Fatalf("console still open after %s", consoleWait)
		}
	}
}

func TestConsoleIsClosedWithAReasonOnRemovalAndShutdown(t *testing.T) {
	t.Parallel()
	n, c, spec, _ := startGame(t, nil, nil)
	other := n.spec(t)
	n.runGame(t, n.d, other)
	removed := dialConsole(t, c, spec.ID)
	shut := dialConsole(t, c, other.ID)
	removed.waitStatus(t, nodeapi.StatusRunning)
	shut.waitStatus(t, nodeapi.StatusRunning)

	if w := call(t, n.d, http.MethodDelete, "/v1/instances/"+spec.ID, nil); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if code, reason := removed.waitClosed(t); code != websocket.StatusGoingAway || reason != "instance removed" {
		t.Errorf("console of a removed instance closed with %d %q", code, reason)
	}
	n.d.Close()
	if code, reason := shut.waitClosed(t); code != websocket.StatusGoingAway || reason != "node shutting down" {
		t.Errorf("console of a closing daemon closed with %d %q", code, reason)
	}
	// Closing the daemon left the game running.
	n.runningContainer(t, other.ID)
}

func TestConsoleCapsConnectionsPerInstance(t *testing.T) {
	t.Parallel()
	_, c, spec, _ := startGame(t, func(c *Config) { c.ConsoleConnections = 2 }, nil)

	first := dialConsole(t, c, spec.ID)
	dialConsole(t, c, spec.ID)
	_, err := c.DialConsole(t.Context(), spec.ID)
	var e *nodeapi.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || !strings.Contains(e.Message, "at most 2") {
		t.Fatalf("third connection: %v, want 429 naming the cap", err)
	}
	// A connection that ends frees its place.
	_ = first.conn.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the first connection's place to free", func() bool {
		conn, err := c.DialConsole(t.Context(), spec.ID)
		if err != nil {
			return false
		}
		_ = conn.CloseNow()
		return true
	})
	if _, err := c.DialConsole(t.Context(), "nobody-here"); !nodeapi.IsNotFound(err) {
		t.Errorf("console of an unknown instance: %v, want 404", err)
	}
}

func TestConsoleOfSuspendedInstanceRefusesCommandsAndPower(t *testing.T) {
	t.Parallel()
	n, c, spec, _ := startGame(t, nil, nil)
	spec.Suspended = true
	spec.Generation++
	if st := ensureOK(t, n.d, spec); st.Status != nodeapi.StatusStopped {
		t.Fatalf("suspended instance is %s, want stopped", st.Status)
	}
	con := dialConsole(t, c, spec.ID)
	con.waitStatus(t, nodeapi.StatusStopped)
	con.send(t, nodeapi.EventCommand, "say hi")
	con.waitError(t, "suspended")
	for _, action := range []string{nodeapi.ActionStart, nodeapi.ActionRestart} {
		con.send(t, nodeapi.EventPower, action)
		con.waitError(t, "go through the panel")
	}
	if st := getStatus(t, n.d, spec.ID); st.Running {
		t.Errorf("suspended instance runs: %+v", st)
	}
}
