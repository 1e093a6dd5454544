package reconcile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// panelConsole is a console connection through the panel.
type panelConsole struct {
	conn   *websocket.Conn
	events chan nodeapi.ConsoleMessage
}

// dialPanelConsole opens the console of id through the panel with header
// (the API key unless header says otherwise); it returns the handshake's
// HTTP status when the panel refuses.
func (c *cluster) dialPanelConsole(t *testing.T, id string, header http.Header) (*panelConsole, int) {
	t.Helper()
	if header == nil {
		header = http.Header{"X-Api-Key": {c.key}}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, c.url+"/api/instances/console/"+id, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial console: %v", err)
		}
		return nil, resp.StatusCode
	}
	conn.SetReadLimit(1 << 20)
	pc := &panelConsole{conn: conn, events: make(chan nodeapi.ConsoleMessage, 4096)}
	go func() {
		defer close(pc.events)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m nodeapi.ConsoleMessage
			if json.Unmarshal(b, &m) == nil {
				pc.events <- m
			}
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return pc, http.StatusSwitchingProtocols
}

func (pc *panelConsole) send(t *testing.T, event, data string) {
	t.Helper()
	raw, _ := json.Marshal(data)
	b, _ := json.Marshal(nodeapi.ConsoleMessage{Event: event, Data: raw})
	if err := pc.conn.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatalf("send %s: %v", event, err)
	}
}

// waitFor consumes events until match accepts one.
func (pc *panelConsole) waitFor(t *testing.T, what string, match func(nodeapi.ConsoleMessage) bool) nodeapi.ConsoleMessage {
	t.Helper()
	var seen []string
	timeout := time.After(waitLimit)
	for {
		select {
		case m, ok := <-pc.events:
			if !ok {
				t.Fatalf("console closed before %s; saw:\n%s", what, strings.Join(seen, "\n"))
			}
			if m.Event != nodeapi.EventStats {
				seen = append(seen, m.Event+" "+string(m.Data))
			}
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s within %s; saw:\n%s", what, waitLimit, strings.Join(seen, "\n"))
		}
	}
}

func isEvent(event, text string) func(nodeapi.ConsoleMessage) bool {
	return func(m nodeapi.ConsoleMessage) bool {
		return m.Event == event && strings.Contains(m.Text(), text)
	}
}

func TestConsoleThroughThePanel(t *testing.T) {
	t.Parallel()
	c, n, id, _ := runningInstance(t)

	if _, code := c.dialPanelConsole(t, id, http.Header{}); code != http.StatusUnauthorized {
		t.Errorf("console without a key: %d, want 401", code)
	}
	// No page of another site can send an API key on a WebSocket upgrade
	// (browsers set no such header), so only cookie upgrades are checked for
	// their origin; the panel's own tests cover those.
	if _, code := c.dialPanelConsole(t, "nosuchinstance", nil); code != http.StatusNotFound {
		t.Errorf("console of an unknown instance: %d, want 404", code)
	}
	same := http.Header{"X-Api-Key": {c.key}, "Origin": {c.url}}
	pc, code := c.dialPanelConsole(t, id, same)
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("console from the panel's own origin: %d", code)
	}
	// The instance counts as running once its container started, which
	// may be a moment before the game prints its ready line: that line
	// comes either replayed, before the status, or live, after it.
	var ready, running bool
	pc.waitFor(t, "the ready line and the running status", func(m nodeapi.ConsoleMessage) bool {
		ready = ready || isEvent(nodeapi.EventOutput, "Server ready on port")(m)
		running = running || isEvent(nodeapi.EventStatus, "running")(m)
		return ready && running
	})
	pc.send(t, nodeapi.EventCommand, "say hello through the panel")
	pc.waitFor(t, "the command's answer", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "hello through the panel"
	})
	st := pc.waitFor(t, "a stats event", func(m nodeapi.ConsoleMessage) bool { return m.Event == nodeapi.EventStats })
	var stats nodeapi.Stats
	if err := json.Unmarshal(st.Data, &stats); err != nil || stats.MemoryLimitBytes != memoryMiB<<20 {
		t.Errorf("stats event %s: %v", st.Data, err)
	}

	// Power on the console is the panel's power: the desired state is
	// recorded, so the reconciler keeps the instance stopped.
	pc.send(t, nodeapi.EventPower, "stop")
	pc.waitFor(t, "stopping", isEvent(nodeapi.EventStatus, "stopping"))
	pc.waitFor(t, "stopped", isEvent(nodeapi.EventStatus, "stopped"))
	c.waitInstance(t, id, "stopped in the panel", func(in instance) bool { return in.Status == "stopped" })
	c.waitPasses(t, n)
	if c.running(t, id) {
		t.Error("the reconciler started an instance stopped on the console")
	}
	pc.send(t, nodeapi.EventPower, "explode")
	pc.waitFor(t, "the refusal of an unknown action", isEvent(nodeapi.EventError, "unknown power action"))
	pc.send(t, nodeapi.EventPower, "start")
	pc.waitFor(t, "running again", isEvent(nodeapi.EventStatus, "running"))
	c.waitInstance(t, id, "running in the panel", func(in instance) bool { return in.Status == "running" })

	// A suspended instance refuses commands and starts.
	c.expectInstance(t, http.StatusOK, http.MethodPost, "/api/instances/suspend/"+id, nil)
	pc.send(t, nodeapi.EventCommand, "say while suspended")
	pc.waitFor(t, "the refusal of a command", isEvent(nodeapi.EventError, "suspended"))
	// The earlier start may still be recording its result after the
	// instance reported running; this connection refuses a second power
	// action until it has, so ask again until the answer is the suspension.
	poll(t, "the refusal of a start as suspended", func() (bool, string) {
		pc.send(t, nodeapi.EventPower, "start")
		m := pc.waitFor(t, "the answer to a start", func(m nodeapi.ConsoleMessage) bool { return m.Event == nodeapi.EventError })
		return strings.Contains(m.Text(), "start: instance is suspended"), m.Text()
	})
}

func TestConsoleThroughThePanelCapsConnections(t *testing.T) {
	t.Parallel()
	c, _, id, _ := runningInstance(t)
	for i := range 16 {
		if _, code := c.dialPanelConsole(t, id, nil); code != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d: %d", i+1, code)
		}
	}
	if _, code := c.dialPanelConsole(t, id, nil); code != http.StatusTooManyRequests {
		t.Errorf("connection 17: %d, want 429", code)
	}
}

func TestStatsThroughThePanel(t *testing.T) {
	t.Parallel()
	c, _, id, _ := runningInstance(t)
	code, b := c.call(t, http.MethodGet, "/api/instances/stats/"+id, nil)
	var m map[string]any
	if code != http.StatusOK || json.Unmarshal(b, &m) != nil {
		t.Fatalf("stats: %d %s", code, b)
	}
	for _, k := range []string{"id", "cpuPercent", "memoryBytes", "memoryLimitBytes", "rxBytes", "txBytes", "diskBytes", "uptimeSeconds"} {
		if _, ok := m[k]; !ok {
			t.Errorf("stats lack %s: %s", k, b)
		}
	}
	if m["id"] != id || m["memoryLimitBytes"] != float64(memoryMiB<<20) {
		t.Errorf("stats = %s", b)
	}
	if mem, _ := m["memoryBytes"].(float64); mem <= 0 || mem > memoryMiB<<20 {
		t.Errorf("memoryBytes = %v, want within the limit", m["memoryBytes"])
	}
	if code, _ := c.call(t, http.MethodGet, "/api/instances/stats/nosuchinstance", nil); code != http.StatusNotFound {
		t.Errorf("stats of an unknown instance: %d, want 404", code)
	}
}
