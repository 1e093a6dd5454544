package node

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
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
	rt := newFakeRuntime()
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
	rt.resetCalls()
	st := ensureOK(t, d, spec)
	if st.Status != nodeapi.StatusStopped || st.Running {
		t.Errorf("stale ensure answered %+v, want the stopped instance as it is", st)
	}
	for _, m := range []string{"Ensure", "Start", "Stop", "Kill"} {
		if n := rt.count(m); n != 0 {
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
	rt := newFakeRuntime()
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
	if rt.count("Stop") != 0 {
		t.Errorf("a stale ensure stopped the instance")
	}
}

func TestKillSignalsAtOnceWhileAStopHoldsTheInstance(t *testing.T) {
	rt := newFakeRuntime()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("stuck"))

	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	rt.hook = func(method, id string) {
		if method == "Stop" {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	}
	stopped := make(chan int)
	go func() { stopped <- power(t, d, "stuck", nodeapi.ActionStop).Code }()
	<-entered
	killed := make(chan nodeapi.InstanceStatus)
	go func() { killed <- decode[nodeapi.InstanceStatus](t, power(t, d, "stuck", nodeapi.ActionKill)) }()
	// The kill's signal goes out while the stop still holds the lock.
	waitFor(t, "the kill's signal", func() bool { return rt.count("Kill") >= 1 })
	if c, _ := rt.container("stuck"); c.state.Running {
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
	rt := newFakeRuntime()
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

func TestThrottleDropsPastTheRateWithOneNoticeEach(t *testing.T) {
	var th throttle
	t0 := time.Unix(1000, 0)
	admitted, notices := 0, []string{}
	for i := range 25 {
		ok, notice := th.admit(t0.Add(time.Duration(i)*time.Millisecond), 10)
		if ok {
			admitted++
		}
		if notice != "" {
			notices = append(notices, notice)
		}
	}
	if admitted != 10 || len(notices) != 1 || !strings.Contains(notices[0], "throttled") {
		t.Fatalf("in one busy second: %d admitted, notices %q; want 10 and one throttled notice", admitted, notices)
	}
	// A second as busy keeps it throttled, silently.
	for i := range 25 {
		if ok, notice := th.admit(t0.Add(time.Second+time.Duration(i)*time.Millisecond), 10); ok || notice != "" {
			t.Fatalf("line %d of the second busy second: admitted %v, notice %q", i, ok, notice)
		}
	}
	// A calm second ends it, with the count of what was dropped.
	if notice := th.settle(t0.Add(2*time.Second), 10); notice != "" {
		t.Errorf("settle after a busy second: %q", notice)
	}
	notice := th.settle(t0.Add(3*time.Second), 10)
	if !strings.Contains(notice, "resumed; 40 lines were dropped") {
		t.Errorf("settle after a calm second: %q", notice)
	}
	if ok, _ := th.admit(t0.Add(3*time.Second+time.Millisecond), 10); !ok {
		t.Error("a line after the throttle ended was dropped")
	}
}

func TestRingKeepsTheLastLinesInOrder(t *testing.T) {
	r := ring{lines: make([]string, 3)}
	if got := r.snapshot(); len(got) != 0 {
		t.Errorf("empty ring = %q", got)
	}
	for _, l := range []string{"a", "b"} {
		r.add(l)
	}
	if got := strings.Join(r.snapshot(), ","); got != "a,b" {
		t.Errorf("ring = %s, want a,b", got)
	}
	for _, l := range []string{"c", "d", "e"} {
		r.add(l)
	}
	if got := strings.Join(r.snapshot(), ","); got != "c,d,e" || r.len() != 3 {
		t.Errorf("ring = %s, want c,d,e", got)
	}
}

func TestOutputFramesAreTheJSONEncodingWouldWrite(t *testing.T) {
	for _, line := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tcr\rnl\n", "\x1b[33mcolour\x1b[0m", "nul\x00",
		"ünïcødé ✓", "bad utf8 \xff\xfe end", "separators \u2028 \u2029", "del \x7f",
	} {
		var m nodeapi.ConsoleMessage
		frame := outputFrame(line)
		if err := json.Unmarshal(frame, &m); err != nil {
			t.Errorf("frame of %q = %s: %v", line, frame, err)
			continue
		}
		want, _ := json.Marshal(line)
		var wantText string
		_ = json.Unmarshal(want, &wantText)
		if m.Event != nodeapi.EventOutput || m.Text() != wantText {
			t.Errorf("frame of %q decodes to %s %q, want %q", line, m.Event, m.Text(), wantText)
		}
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

func TestCheckCommandRefusesWhatIsNotOneLine(t *testing.T) {
	for cmd, ok := range map[string]bool{
		"say hello":               true,
		"say\ttabbed":             true,
		"":                        false,
		"   ":                     false,
		"say a\nstop":             false,
		"bell\a":                  false,
		"bad \xff":                false,
		strings.Repeat("x", 4097): false,
	} {
		if err := checkCommand(cmd); (err == nil) != ok {
			t.Errorf("checkCommand(%q) = %v, want ok %v", cmd, err, ok)
		}
	}
}

func TestRateLimiterAllowsTheRateAndRefills(t *testing.T) {
	l := newRateLimiter(10)
	t0 := time.Unix(0, 0)
	allowed := 0
	for range 30 {
		if l.allow(t0) {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("burst allowed %d, want 10", allowed)
	}
	if l.allow(t0.Add(50 * time.Millisecond)) {
		t.Error("allowed after 50ms, when half a token has come back")
	}
	if !l.allow(t0.Add(150 * time.Millisecond)) {
		t.Error("refused after 150ms, when a token has come back")
	}
}
