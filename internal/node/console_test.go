package node

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

// TestNodeConsoleNeverStopsTheInstance checks that power goes only
// through the power endpoint, with the panel's generation: a power event
// on the node's console is refused, and the template's stop command typed
// there reaches the game's stdin like any other line.
func TestNodeConsoleNeverStopsTheInstance(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("typed")
	ensureOK(t, d, spec)
	con := dialConsole(t, serveAPI(t, d), spec.ID)
	con.waitStatus(t, nodeapi.StatusRunning)

	for _, action := range []string{nodeapi.ActionStop, nodeapi.ActionKill, nodeapi.ActionRestart} {
		con.send(t, nodeapi.EventPower, action)
		con.waitError(t, "power actions go through the panel")
	}
	con.send(t, nodeapi.EventCommand, spec.StopCommand)
	waitFor(t, "the stop command on the game's stdin", func() bool {
		c, _ := rt.Container(spec.ID)
		return slices.Contains(c.Stdin, spec.StopCommand)
	})
	if stops, kills := rt.Calls("Stop"), rt.Calls("Kill"); stops+kills != 0 {
		t.Errorf("the console stopped the instance: %d stops, %d kills", stops, kills)
	}
	if st := getStatus(t, d, spec.ID); st.Status != nodeapi.StatusRunning || !st.Running {
		t.Errorf("after the console's power events and stop command: %+v, want running", st)
	}
	if rec := readRecordOf(t, d, spec.ID); rec.StoppedByNode || rec.PowerGeneration != 0 {
		t.Errorf("the console recorded a power action: %+v", rec)
	}
}

// clockedConsole runs a game on the fake runtime under a daemon whose clock
// the test moves, tuned by tune, and connects a console to it.
func clockedConsole(t *testing.T, tune func(*Config)) (*fake.Runtime, *testClock, *wsConsole, string) {
	t.Helper()
	rt, clock := fake.New(), newTestClock()
	d := newTunedTestDaemon(t, rt, t.TempDir(), nil, func(c *Config) {
		c.Now = clock.Now
		tune(c)
	})
	ensureOK(t, d, validSpec("clocked"))
	con := dialConsole(t, serveAPI(t, d), "clocked")
	con.waitStatus(t, nodeapi.StatusRunning)
	return rt, clock, con, "clocked"
}

func TestConsoleThrottlesAFloodWithOneNoticeUntilASecondStaysCalm(t *testing.T) {
	const rate, flood = 10, 25
	rt, clock, con, id := clockedConsole(t, func(c *Config) { c.ConsoleLineRate = rate })
	var lines strings.Builder
	for i := range flood {
		fmt.Fprintf(&lines, "flood line %d\n", i)
	}
	// One write: the node reads it whole and handles every line before
	// it reads "tail", so all of them are handled once Print of "tail"
	// returns, while the clock stands still, within one second.
	rt.Print(id, lines.String())
	rt.Print(id, "tail\n")
	got, notices := 0, 0
	con.waitFor(t, "the throttle notice", func(m nodeapi.ConsoleMessage) bool {
		switch text := m.Text(); {
		case m.Event != nodeapi.EventOutput:
		case strings.HasPrefix(text, "flood line "):
			got++
		case strings.Contains(text, "console output throttled"):
			notices++
		}
		return notices == 1
	})
	if got != rate {
		t.Errorf("the client got %d flood lines before the notice, want %d", got, rate)
	}
	// A calm second ends it, with the count of what was dropped, though
	// no line comes to say it.
	clock.advance(2 * time.Second)
	resumed := con.waitOutput(t, "console output resumed")
	var dropped int
	if _, err := fmt.Sscanf(resumed, "[berth] console output resumed; %d lines were dropped", &dropped); err != nil ||
		dropped < flood-rate || dropped > flood-rate+1 {
		t.Errorf("resume notice %q, want %d lines dropped (%d with the tail)", resumed, flood-rate, flood-rate+1)
	}
	rt.Print(id, "calm line\n")
	con.waitOutput(t, "calm line")
	seen := 0
	for _, e := range con.seen {
		if strings.Contains(e, "flood line ") {
			seen++
		}
	}
	if seen != rate {
		t.Errorf("%d flood lines reached the client in all, want %d", seen, rate)
	}
}

func TestConsoleCapsCommandsPerSecond(t *testing.T) {
	const rate, sent = 4, 10
	rt, clock, con, id := clockedConsole(t, func(c *Config) { c.ConsoleCommandRate = rate })
	for i := range sent {
		con.send(t, nodeapi.EventCommand, fmt.Sprintf("say burst %d", i))
	}
	// The clock stands still: the bucket holds one second's worth.
	for range sent - rate {
		con.waitError(t, "too many messages: at most 4 a second")
	}
	clock.advance(time.Second / 2)
	con.send(t, nodeapi.EventCommand, "say after half a second")
	waitFor(t, "the command after half a second", func() bool {
		c, _ := rt.Container(id)
		return slices.Contains(c.Stdin, "say after half a second")
	})
	c, _ := rt.Container(id)
	want := []string{"say burst 0", "say burst 1", "say burst 2", "say burst 3", "say after half a second"}
	if !slices.Equal(c.Stdin, want) {
		t.Errorf("the game got %q, want %q", c.Stdin, want)
	}
}
