package node

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

func TestTransitionTableNamesOnlyKnownStatesAndRefusesNonsense(t *testing.T) {
	known := map[string]bool{
		nodeapi.StatusOffline: true, nodeapi.StatusStarting: true, nodeapi.StatusRunning: true,
		nodeapi.StatusStopping: true, nodeapi.StatusStopped: true, nodeapi.StatusCrashed: true,
	}
	if len(transitions) != len(known) {
		t.Errorf("the table has %d states, want %d", len(transitions), len(known))
	}
	for from, tos := range transitions {
		if !known[from] {
			t.Errorf("unknown state %q in the table", from)
		}
		for _, to := range tos {
			if !known[to] || to == from {
				t.Errorf("%s -> %s is not a transition", from, to)
			}
		}
	}
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{nodeapi.StatusStopped, nodeapi.StatusStarting, true},
		{nodeapi.StatusStarting, nodeapi.StatusRunning, true},
		{nodeapi.StatusRunning, nodeapi.StatusCrashed, true},
		{nodeapi.StatusCrashed, nodeapi.StatusStarting, true},
		// A stop in progress ends stopped, never crashed.
		{nodeapi.StatusStopping, nodeapi.StatusCrashed, false},
		// Nothing runs to crash or to stop.
		{nodeapi.StatusStopped, nodeapi.StatusCrashed, false},
		{nodeapi.StatusOffline, nodeapi.StatusStopping, false},
		{nodeapi.StatusStopped, nodeapi.StatusStopping, false},
	} {
		if got := canTransition(tc.from, tc.to); got != tc.ok {
			t.Errorf("%s -> %s allowed = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

func TestEnsureOlderThanAPowerActionIsIgnored(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("raced")
	spec.Generation = 4
	ensureOK(t, d, spec)

	// The panel records "stopped" at generation 5 and asks for the stop;
	// the reconciler's ensure of generation 4, still wanting the instance
	// running, lands just after.
	w := call(t, d, http.MethodPost, "/v1/instances/raced/power", nodeapi.PowerRequest{Action: nodeapi.ActionStop, Generation: 5})
	if st := decode[nodeapi.InstanceStatus](t, w); w.Code != http.StatusOK || st.Status != nodeapi.StatusStopped {
		t.Fatalf("stop: %d %+v", w.Code, st)
	}
	rt.ResetCalls()
	st := ensureOK(t, d, spec)
	if st.Status != nodeapi.StatusStopped || st.Running {
		t.Errorf("stale ensure answered %+v, want the stopped instance as it is", st)
	}
	for _, m := range []string{"Ensure", "Start", "Stop", "Kill"} {
		if n := rt.Calls(m); n != 0 {
			t.Errorf("a stale ensure called %s %d times", m, n)
		}
	}

	// The ensure of the generation the stop was recorded at is applied,
	// and so is a later one.
	spec.Generation, spec.Desired = 5, nodeapi.DesiredStopped
	if st := ensureOK(t, d, spec); st.Status != nodeapi.StatusStopped || st.Generation != 5 {
		t.Errorf("ensure of generation 5 = %+v", st)
	}
	spec.Generation, spec.Desired = 6, nodeapi.DesiredRunning
	if st := ensureOK(t, d, spec); st.Status != nodeapi.StatusRunning || st.Generation != 6 {
		t.Errorf("ensure of generation 6 = %+v, want running", st)
	}
	// An ensure older than the stored spec is as stale.
	spec.Generation, spec.Desired = 5, nodeapi.DesiredStopped
	if st := ensureOK(t, d, spec); st.Status != nodeapi.StatusRunning || st.Generation != 6 {
		t.Errorf("ensure of generation 5 after 6 = %+v, want ignored", st)
	}

	if w := call(t, d, http.MethodPost, "/v1/instances/raced/power", `{"action":"stop","generation":-1}`); w.Code != http.StatusBadRequest ||
		!strings.Contains(errorText(t, w), "generation") {
		t.Errorf("negative generation: %d %s", w.Code, w.Body)
	}
}

func TestPowerStartWithGenerationSurvivesAStaleStoppedEnsure(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("wanted")
	spec.Desired = nodeapi.DesiredStopped
	ensureOK(t, d, spec)

	w := call(t, d, http.MethodPost, "/v1/instances/wanted/power", nodeapi.PowerRequest{Action: nodeapi.ActionStart, Generation: 2})
	if st := decode[nodeapi.InstanceStatus](t, w); st.Status != nodeapi.StatusRunning {
		t.Fatalf("start: %d %+v", w.Code, st)
	}
	if st := ensureOK(t, d, spec); st.Status != nodeapi.StatusRunning {
		t.Errorf("stale stopped ensure undid the start: %+v", st)
	}
	if rt.Calls("Stop") != 0 {
		t.Errorf("a stale ensure stopped the instance")
	}
}

func TestKillSignalsAtOnceWhileAStopHoldsTheInstance(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("stuck"))

	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	rt.SetHook(func(method, id string) {
		if method == "Stop" {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	})
	stopped := make(chan int)
	go func() { stopped <- power(t, d, "stuck", nodeapi.ActionStop).Code }()
	<-entered
	killed := make(chan nodeapi.InstanceStatus)
	go func() { killed <- decode[nodeapi.InstanceStatus](t, power(t, d, "stuck", nodeapi.ActionKill)) }()
	// The kill's signal goes out while the stop still holds the lock.
	waitFor(t, "the kill's signal", func() bool { return rt.Calls("Kill") >= 1 })
	if c, _ := rt.Container("stuck"); c.State.Running {
		t.Error("the game runs after the kill's signal")
	}
	close(release)
	if code := <-stopped; code != http.StatusOK && code != http.StatusServiceUnavailable {
		t.Errorf("the interrupted stop answered %d", code)
	}
	if st := <-killed; st.Status != nodeapi.StatusStopped || st.Running {
		t.Errorf("kill answered %+v, want stopped", st)
	}
}

func TestCrashRecordRestartsThenHoldsWithinTheWindow(t *testing.T) {
	rt := fake.New()
	d := newTestDaemonIn(t, rt, t.TempDir(), nil)
	ensureOK(t, d, validSpec("flaky"))
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	crash := func(at time.Time, code int, uptime time.Duration) (bool, time.Duration) {
		t.Helper()
		restart, delay, err := d.recordCrash(ctx, "flaky", runtime.State{FinishedAt: at, ExitCode: code}, uptime)
		if err != nil {
			t.Fatal(err)
		}
		return restart, delay
	}
	if restart, delay := crash(t0, 1, time.Second); !restart || delay != d.cfg.RestartDelay {
		t.Errorf("first crash: restart %v after %s, want a restart after %s", restart, delay, d.cfg.RestartDelay)
	}
	// The same crash seen again (a daemon restart) keeps its decision.
	if restart, _ := crash(t0, 1, time.Second); !restart {
		t.Error("the first crash, read again, lost its restart")
	}
	if restart, _ := crash(t0.Add(30*time.Second), 2, time.Second); restart {
		t.Error("a second crash within the window was restarted")
	}
	st := getStatus(t, d, "flaky")
	if !strings.Contains(st.Error, "exited with code 2") || !strings.Contains(st.Error, "not restarted automatically") {
		t.Errorf("status error = %q", st.Error)
	}
	// Past the window, and after short runs, the restarts go on, slower.
	restart, delay := crash(t0.Add(5*time.Minute), 3, time.Second)
	if !restart || delay != 4*d.cfg.RestartDelay {
		t.Errorf("crash after the window: restart %v after %s, want one after %s", restart, delay, 4*d.cfg.RestartDelay)
	}
	// After a long run, the series starts again.
	if _, delay := crash(t0.Add(time.Hour), 4, time.Hour); delay != d.cfg.RestartDelay {
		t.Errorf("crash after a long run: delay %s, want %s", delay, d.cfg.RestartDelay)
	}
	if got := d.restartDelay(100); got != MaxRestartDelay {
		t.Errorf("delay after 100 crashes = %s, want the cap %s", got, MaxRestartDelay)
	}
}

func TestReadinessMatchesSubstringsAndRegexpsWithoutColour(t *testing.T) {
	r, err := compileReadiness([]string{"Done (", `regex:^\[\d+:\d+:\d+\] Server started$`, "regex:("})
	if err == nil || !r.any() {
		t.Fatalf("compile: %v (want the bad regexp reported), any %v", err, r.any())
	}
	for line, want := range map[string]bool{
		`[12:00:01 INFO]: Done (3.2s)! For help, type "help"`: true,
		"[10:11:12] Server started":                           true,
		"\x1b[32m[10:11:12] Server started\x1b[0m":            true,
		"Server started":                                      false,
		"Loading world":                                       false,
	} {
		if got := r.match([]byte(line)); got != want {
			t.Errorf("match(%q) = %v, want %v", line, got, want)
		}
	}
	if none, _ := compileReadiness(nil); none.any() {
		t.Error("no patterns reported as some")
	}
}
