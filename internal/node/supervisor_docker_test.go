package node

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// powerOK runs action and fails the test unless the node answers 200.
func powerOK(t *testing.T, d *Daemon, id, action string) nodeapi.InstanceStatus {
	t.Helper()
	w := power(t, d, id, action)
	if w.Code != http.StatusOK {
		t.Fatalf("power %s: %d %s", action, w.Code, w.Body)
	}
	return decode[nodeapi.InstanceStatus](t, w)
}

// replayOf connects a console and returns the output lines it replays.
func replayOf(t *testing.T, c *nodeapi.Client, id string) []string {
	t.Helper()
	con := dialConsole(t, c, id)
	var lines []string
	con.waitFor(t, "the end of the replay", func(m nodeapi.ConsoleMessage) bool {
		if m.Event == nodeapi.EventOutput {
			lines = append(lines, m.Text())
		}
		return m.Event == nodeapi.EventStatus
	})
	_ = con.conn.CloseNow()
	return lines
}

// countContaining counts the lines that contain s.
func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func TestPowerStopTypesTheStopCommand(t *testing.T) {
	t.Parallel()
	n, c, spec, _ := startGame(t, nil, func(spec *nodeapi.InstanceSpec) {
		spec.StopCommand = "stop"
	})
	con := dialConsole(t, c, spec.ID)
	con.waitStatus(t, nodeapi.StatusRunning)

	st := powerOK(t, n.d, spec.ID, nodeapi.ActionStop)
	if st.Status != nodeapi.StatusStopped || st.Running || st.ExitCode != 0 {
		t.Fatalf("stop answered %+v, want stopped with exit code 0", st)
	}
	con.waitStatus(t, nodeapi.StatusStopping)
	// The game's own answer to its stop command, not to a signal.
	con.waitFor(t, "the game's stop line", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "Stopping server"
	})
	con.waitStatus(t, nodeapi.StatusStopped)

	st = powerOK(t, n.d, spec.ID, nodeapi.ActionStart)
	if st.Status != nodeapi.StatusRunning || !st.Running {
		t.Fatalf("start answered %+v, want running", st)
	}
	con.waitStatus(t, nodeapi.StatusStarting)
	con.waitStatus(t, nodeapi.StatusRunning)
	con.waitOutput(t, "Server ready on port")
	// A stop typed on the console is the panel's business: it intercepts
	// it and sends a power action (TestNodeConsoleNeverStopsTheInstance).
}

func TestPowerStopIgnoredIsFollowedBySIGTERM(t *testing.T) {
	t.Parallel()
	n, c, spec, _ := startGame(t, func(c *Config) { c.StopTimeout = time.Second }, func(spec *nodeapi.InstanceSpec) {
		// The game answers this "stop command" and keeps running.
		spec.StopCommand = "say not stopping"
	})
	con := dialConsole(t, c, spec.ID)

	began := time.Now()
	st := powerOK(t, n.d, spec.ID, nodeapi.ActionStop)
	if elapsed := time.Since(began); elapsed < time.Second {
		t.Errorf("stop took %s, less than the stop timeout", elapsed)
	}
	if st.Status != nodeapi.StatusStopped || st.ExitCode != 0 {
		t.Fatalf("stop answered %+v, want stopped by SIGTERM with exit code 0", st)
	}
	con.waitOutput(t, "not stopping")
	con.waitFor(t, "the game's answer to SIGTERM", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "Stopping server (signal)"
	})
}

func TestPowerStopOfProcessIgnoringSIGTERMEndsInSIGKILL(t *testing.T) {
	t.Parallel()
	n := newTunedDockerNode(t, func(c *Config) { c.StopTimeout = time.Second })
	spec := n.spec(t)
	// The startup ignores SIGTERM, and sleep inherits that; nor does it
	// read its stdin. (Under Docker's init the process is not process 1, so
	// only an ignored signal is dropped.)
	spec.Image = dockertest.BusyboxImage(t)
	spec.Startup = `trap "" TERM; exec sleep 600`
	spec.StopCommand = "quit"
	if st := ensureOK(t, n.d, spec); st.Status != nodeapi.StatusRunning {
		t.Fatalf("ensure answered %+v, want running", st)
	}
	began := time.Now()
	st := powerOK(t, n.d, spec.ID, nodeapi.ActionStop)
	if elapsed := time.Since(began); elapsed < 2*time.Second {
		t.Errorf("stop took %s; want the stop timeout and the SIGTERM grace (2s) before the kill", elapsed)
	}
	if st.Status != nodeapi.StatusStopped || st.ExitCode != 137 || st.Running {
		t.Fatalf("stop answered %+v, want stopped by SIGKILL (137), not crashed", st)
	}
}

func TestPowerKillGoesThroughAStuckStop(t *testing.T) {
	t.Parallel()
	n, c, spec, _ := startGame(t, func(c *Config) { c.StopTimeout = time.Minute }, func(spec *nodeapi.InstanceSpec) {
		spec.StopCommand = "say still here"
	})
	con := dialConsole(t, c, spec.ID)

	var wg sync.WaitGroup
	stopCode := 0
	wg.Go(func() { stopCode = power(t, n.d, spec.ID, nodeapi.ActionStop).Code })
	con.waitStatus(t, nodeapi.StatusStopping)
	con.waitOutput(t, "still here")

	began := time.Now()
	st := powerOK(t, n.d, spec.ID, nodeapi.ActionKill)
	if elapsed := time.Since(began); elapsed > 20*time.Second {
		t.Errorf("kill took %s; it should not wait out the stop's minute", elapsed)
	}
	if st.Status != nodeapi.StatusStopped || st.ExitCode != 137 {
		t.Errorf("kill answered %+v, want stopped with 137", st)
	}
	wg.Wait()
	if stopCode != http.StatusOK && stopCode != http.StatusServiceUnavailable {
		t.Errorf("the interrupted stop answered %d", stopCode)
	}
	// A kill is a wish to stay down, not a crash to recover from.
	lines := replayOf(t, c, spec.ID)
	if n := countContaining(lines, "server exited with code"); n != 0 {
		t.Errorf("a kill was reported as a crash:\n%s", strings.Join(lines, "\n"))
	}
	if st := getStatus(t, n.d, spec.ID); st.Status != nodeapi.StatusStopped || st.Running {
		t.Errorf("after the kill: %+v, want stopped", st)
	}
}

func TestReadinessHoldsStartingUntilThePatternAppears(t *testing.T) {
	t.Parallel()
	for _, pattern := range []string{"Server ready", `regex:^Server ready on port \d+$`} {
		t.Run(pattern, func(t *testing.T) {
			t.Parallel()
			n := newDockerNode(t)
			c := serveAPI(t, n.d)
			spec := n.spec(t)
			spec.Env = map[string]string{"GAMESERVER_READY_DELAY": "2s"}
			spec.ReadyPatterns = []string{pattern}
			st := ensureOK(t, n.d, spec)
			if st.Status != nodeapi.StatusStarting || !st.Running {
				t.Fatalf("ensure answered %+v, want starting", st)
			}
			if st := getStatus(t, n.d, spec.ID); st.Status != nodeapi.StatusStarting {
				t.Errorf("status before the ready line = %q, want starting", st.Status)
			}
			con := dialConsole(t, c, spec.ID)
			con.waitStatus(t, nodeapi.StatusStarting)
			con.waitFor(t, "the ready line, then running", func(m nodeapi.ConsoleMessage) bool {
				if m.Event == nodeapi.EventStatus && m.Text() == nodeapi.StatusRunning {
					t.Fatal("running before the ready line")
				}
				return m.Event == nodeapi.EventOutput && strings.HasPrefix(m.Text(), "Server ready on port")
			})
			con.waitStatus(t, nodeapi.StatusRunning)
			if st := getStatus(t, n.d, spec.ID); st.Status != nodeapi.StatusRunning {
				t.Errorf("status after the ready line = %q, want running", st.Status)
			}
		})
	}
}

func TestCrashIsRestartedOnceThenTheCrashLoopGuardHolds(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	c := serveAPI(t, n.d)
	spec := n.spec(t)
	spec.Env = map[string]string{"GAMESERVER_EXIT_CODE": "3"}
	ensureOK(t, n.d, spec)

	var st nodeapi.InstanceStatus
	waitFor(t, "the second crash to be held", func() bool {
		st = getStatus(t, n.d, spec.ID)
		return strings.Contains(st.Error, "not restarted automatically")
	})
	if st.Status != nodeapi.StatusCrashed || st.ExitCode != 3 || st.Running {
		t.Errorf("status = %+v, want crashed with exit code 3", st)
	}
	lines := replayOf(t, c, spec.ID)
	joined := strings.Join(lines, "\n")
	if got := countContaining(lines, "[berth] server exited with code 3"); got != 2 {
		t.Errorf("%d crash notices, want 2 (the crash and the one after the restart):\n%s", got, joined)
	}
	if countContaining(lines, "[berth] restarting in") != 1 || countContaining(lines, "crashed twice within 1m0s") != 1 {
		t.Errorf("console lacks the restart notice or the guard's:\n%s", joined)
	}
	if got := countContaining(lines, "Server ready on port"); got != 2 {
		t.Errorf("the game started %d times, want 2:\n%s", got, joined)
	}

	// Held: no restart follows, not even from a new daemon reading the
	// crash from the instance's record.
	second := n.restart(t)
	c = serveAPI(t, second)
	// Watched for ten restart delays, which is when a restart would come.
	tick := time.NewTicker(second.cfg.RestartDelay)
	defer tick.Stop()
	for range 10 {
		if st := getStatus(t, second, spec.ID); st.Status != nodeapi.StatusCrashed || st.Running {
			t.Fatalf("a held crash came back as %+v", st)
		}
		<-tick.C
	}
	if got := countContaining(replayOf(t, c, spec.ID), "Server ready on port"); got != 2 {
		t.Errorf("the game started %d times in all, want 2", got)
	}

	// Starting it by hand is always allowed.
	if st := powerOK(t, second, spec.ID, nodeapi.ActionStart); st.Status == nodeapi.StatusOffline {
		t.Errorf("start of a held instance answered %+v", st)
	}
}

func TestOutOfMemoryKillIsReportedOnConsoleAndStatus(t *testing.T) {
	t.Parallel()
	// A long restart delay keeps the crash in view while it is checked.
	n, c, spec, _ := startGame(t, func(c *Config) { c.RestartDelay = time.Minute }, nil)
	con := dialConsole(t, c, spec.ID)
	con.send(t, nodeapi.EventCommand, "alloc 200")
	con.waitOutput(t, "[berth] server killed: out of memory (limit 64 MiB)")
	con.waitStatus(t, nodeapi.StatusCrashed)
	con.waitOutput(t, "[berth] restarting in 1m0s")
	st := getStatus(t, n.d, spec.ID)
	if st.Status != nodeapi.StatusCrashed || !st.OOMKilled || st.ExitCode != 137 || !strings.Contains(st.Error, "out of memory") {
		t.Errorf("status = %+v, want crashed, OOM killed, exit 137, with the reason", st)
	}
}

func TestRestartedDaemonReattachesToRunningConsoleWithoutRestarting(t *testing.T) {
	t.Parallel()
	n, c, spec, before := startGame(t, nil, nil)
	first := dialConsole(t, c, spec.ID)
	first.send(t, nodeapi.EventCommand, "say before the restart")
	first.waitOutput(t, "before the restart")

	second := n.restart(t)
	c = serveAPI(t, second)
	con := dialConsole(t, c, spec.ID)
	con.waitOutput(t, "before the restart") // replayed from the container's log
	con.waitStatus(t, nodeapi.StatusRunning)
	con.send(t, nodeapi.EventCommand, "say after the restart")
	con.waitFor(t, "the line after the restart", func(m nodeapi.ConsoleMessage) bool {
		return m.Event == nodeapi.EventOutput && m.Text() == "after the restart"
	})
	if st := getStatus(t, second, spec.ID); st.ContainerID != before.ContainerID || !st.StartedAt.Equal(before.StartedAt) {
		t.Errorf("after the daemon restart: %+v, want container %s untouched", st, before.ContainerID)
	}
	// The adopted run's end is seen as well.
	con.send(t, nodeapi.EventCommand, "exit 4")
	con.waitOutput(t, "[berth] server exited with code 4")
	con.waitStatus(t, nodeapi.StatusCrashed)
}

func TestStatsAreWithinSaneBounds(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	c := serveAPI(t, n.d)
	spec := n.spec(t)
	began := time.Now()
	n.runGame(t, n.d, spec)
	// Traffic for the network counters: the game greets a connection.
	waitFor(t, "the game's banner", func() bool {
		line, err := dockertest.ReadBanner("tcp", spec.Ports[0].Host)
		return err == nil && strings.HasPrefix(line, "berth-gameserver ")
	})

	check := func(what string, s nodeapi.Stats) {
		t.Helper()
		const limit = 64 << 20
		switch {
		case s.MemoryLimitBytes != limit:
			t.Errorf("%s: memory limit %d, want %d", what, s.MemoryLimitBytes, limit)
		case s.MemoryBytes == 0 || s.MemoryBytes > limit:
			t.Errorf("%s: memory %d, want in (0, %d]", what, s.MemoryBytes, limit)
		case s.CPUPercent < 0 || s.CPUPercent > 100:
			t.Errorf("%s: CPU %.1f%%, want within [0, 100] for an idle game on half a core", what, s.CPUPercent)
		case s.UptimeSeconds < 0 || s.UptimeSeconds > int64(time.Since(began)/time.Second)+1:
			t.Errorf("%s: uptime %ds, want at most the %s since the start", what, s.UptimeSeconds, time.Since(began))
		case s.DiskBytes < int64(len("25565\n")):
			t.Errorf("%s: disk %d bytes, want at least ready.txt", what, s.DiskBytes)
		}
	}
	var s nodeapi.Stats
	waitFor(t, "stats counting the banner's bytes", func() bool {
		var err error
		s, err = c.Stats(t.Context(), spec.ID)
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		return s.TxBytes > 0 && s.RxBytes > 0
	})
	check("GET stats", s)

	con := dialConsole(t, c, spec.ID)
	events := 0
	con.waitFor(t, "three stats events", func(m nodeapi.ConsoleMessage) bool {
		if m.Event != nodeapi.EventStats {
			return false
		}
		var s nodeapi.Stats
		if err := json.Unmarshal(m.Data, &s); err != nil {
			t.Fatalf("stats event %s: %v", m.Data, err)
		}
		check("stats event", s)
		events++
		return events == 3
	})

	if st := powerOK(t, n.d, spec.ID, nodeapi.ActionStop); st.Running {
		t.Fatalf("stop answered %+v", st)
	}
	s, err := c.Stats(t.Context(), spec.ID)
	if err != nil || s.MemoryBytes != 0 || s.UptimeSeconds != 0 || s.CPUPercent != 0 || s.DiskBytes == 0 {
		t.Errorf("stats of a stopped instance = %+v, %v; want no use but the disk", s, err)
	}
}
