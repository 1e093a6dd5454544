package node

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

func TestEnsureRejectsInvalidSpecs(t *testing.T) {
	cases := []struct {
		name   string
		path   string // defaults to /v1/instances/abc
		mutate func(*nodeapi.InstanceSpec)
		raw    string // sent instead of the (mutated) valid spec when set
		status int
		field  string // must appear in the error text
	}{
		{name: "id differs from path", mutate: func(s *nodeapi.InstanceSpec) { s.ID = "other" }, field: "id"},
		{name: "id missing", mutate: func(s *nodeapi.InstanceSpec) { s.ID = "" }, field: "id"},
		{name: "path id has a dot", path: "/v1/instances/a.b", mutate: func(s *nodeapi.InstanceSpec) { s.ID = "a.b" }, field: "id"},
		{name: "path id is traversal", path: "/v1/instances/..%2F..%2Fetc", mutate: func(s *nodeapi.InstanceSpec) { s.ID = "../../etc" }, field: "id"},
		{name: "path id too long", path: "/v1/instances/" + strings.Repeat("a", 65), mutate: func(s *nodeapi.InstanceSpec) { s.ID = strings.Repeat("a", 65) }, field: "id"},
		{name: "empty image", mutate: func(s *nodeapi.InstanceSpec) { s.Image = "" }, field: "image"},
		{name: "blank image", mutate: func(s *nodeapi.InstanceSpec) { s.Image = "  " }, field: "image"},
		{name: "image with space", mutate: func(s *nodeapi.InstanceSpec) { s.Image = "a b" }, field: "image"},
		{name: "zero memory", mutate: func(s *nodeapi.InstanceSpec) { s.MemoryMiB = 0 }, field: "memoryMiB"},
		{name: "negative memory", mutate: func(s *nodeapi.InstanceSpec) { s.MemoryMiB = -1 }, field: "memoryMiB"},
		{name: "zero cpu", mutate: func(s *nodeapi.InstanceSpec) { s.CPU = 0 }, field: "cpu"},
		{name: "negative cpu", mutate: func(s *nodeapi.InstanceSpec) { s.CPU = -0.5 }, field: "cpu"},
		{name: "negative disk", mutate: func(s *nodeapi.InstanceSpec) { s.DiskMiB = -1 }, field: "diskMiB"},
		{name: "no ports", mutate: func(s *nodeapi.InstanceSpec) { s.Ports = nil }, field: "ports"},
		{name: "host port zero", mutate: func(s *nodeapi.InstanceSpec) { s.Ports[1].Host = 0 }, field: "ports[1].host"},
		{name: "host port too big", mutate: func(s *nodeapi.InstanceSpec) { s.Ports[0].Host = 65536 }, field: "ports[0].host"},
		{name: "container port negative", mutate: func(s *nodeapi.InstanceSpec) { s.Ports[0].Container = -1 }, field: "ports[0].container"},
		{name: "host port twice", mutate: func(s *nodeapi.InstanceSpec) { s.Ports[1].Host = s.Ports[0].Host }, field: "ports[1].host"},
		{name: "primary port not published", mutate: func(s *nodeapi.InstanceSpec) { s.PrimaryPort = 1234 }, field: "primaryPort"},
		{name: "env name with =", mutate: func(s *nodeapi.InstanceSpec) { s.Env = map[string]string{"A=B": "c"} }, field: "env"},
		{name: "relative mount path", mutate: func(s *nodeapi.InstanceSpec) { s.MountPath = "data" }, field: "mountPath"},
		{name: "desired empty", mutate: func(s *nodeapi.InstanceSpec) { s.Desired = "" }, field: "desired"},
		{name: "desired paused", mutate: func(s *nodeapi.InstanceSpec) { s.Desired = "paused" }, field: "desired"},
		{name: "negative generation", mutate: func(s *nodeapi.InstanceSpec) { s.Generation = -1 }, field: "generation"},
		{name: "malformed JSON", raw: `{"id":"abc",`, field: "JSON"},
		{name: "not JSON", raw: `id=abc`, field: "JSON"},
		{name: "empty body", raw: ``, field: "body"},
		{name: "array body", raw: `[]`, field: "object"},
		{name: "two values", raw: `{"id":"abc"} {}`, field: "single"},
		{name: "memory as string", raw: `{"id":"abc","memoryMiB":"512"}`, field: "memoryMiB"},
		{name: "ports as string", raw: `{"id":"abc","ports":"25565:25565"}`, field: "ports"},
		{name: "body over 1 MiB", raw: `{"id":"abc","image":"` + strings.Repeat("x", 1<<20) + `"}`, status: http.StatusRequestEntityTooLarge, field: "1 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := fake.New()
			d := newTestDaemon(t, rt)
			path := tc.path
			if path == "" {
				path = "/v1/instances/abc"
			}
			var body any = tc.raw
			if tc.raw == "" && tc.mutate != nil {
				spec := validSpec("abc")
				tc.mutate(&spec)
				body = spec
			}
			want := tc.status
			if want == 0 {
				want = http.StatusBadRequest
			}
			w := call(t, d, http.MethodPut, path, body)
			if w.Code != want {
				t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
			}
			if msg := errorText(t, w); !strings.Contains(msg, tc.field) {
				t.Errorf("error %q does not name %q", msg, tc.field)
			}
			if n := rt.Calls("Ensure"); n != 0 {
				t.Errorf("runtime saw %d Ensure calls for a rejected spec", n)
			}
			for _, sub := range []string{"instances", "volumes"} {
				entries, _ := os.ReadDir(filepath.Join(d.cfg.Dir, sub))
				if len(entries) != 0 {
					t.Errorf("rejected spec left %s/%s", sub, entries[0].Name())
				}
			}
		})
	}
}

func TestEnsureCreatesAndStartsInstance(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("mc-1")
	spec.Generation = 4
	spec.MountPath = "/data"

	st := ensureOK(t, d, spec)
	if st.ID != "mc-1" || st.Status != nodeapi.StatusRunning || !st.Running || st.Generation != 4 || st.ContainerID == "" {
		t.Fatalf("status = %+v", st)
	}
	c, ok := rt.Container("mc-1")
	if !ok {
		t.Fatal("no container created")
	}
	wantEnv := []string{"ALPHA=a b", "ZETA=z", "PRIMARY_PORT=25565", "SERVER_PORT=25565"}
	if !slices.Equal(c.Spec.Env, wantEnv) {
		t.Errorf("env = %q, want %q", c.Spec.Env, wantEnv)
	}
	if want := runtime.ShellCommand("java -jar server.jar"); !slices.Equal(c.Spec.Cmd, want) {
		t.Errorf("cmd = %q, want %q", c.Spec.Cmd, want)
	}
	wantData := filepath.Join(d.cfg.Dir, "volumes", "mc-1")
	if c.Spec.DataDir != wantData || !filepath.IsAbs(c.Spec.DataDir) {
		t.Errorf("data dir = %q, want %q", c.Spec.DataDir, wantData)
	}
	if c.Spec.MountPath != "/data" || c.Spec.MemoryMiB != 512 || c.Spec.CPU != 1.5 || len(c.Spec.Ports) != 2 || c.Spec.Ports[1].Host != 30002 {
		t.Errorf("runtime spec = %+v", c.Spec)
	}
	info, err := os.Stat(wantData)
	if err != nil || !info.IsDir() || info.Mode().Perm() != 0o750 {
		t.Errorf("data folder: %v %v", info, err)
	}
	info, err = os.Stat(filepath.Join(d.cfg.Dir, "instances", "mc-1.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("spec file: %v %v", info, err)
	}
}

func TestEnsureWithoutStartupKeepsImageCommand(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("plain")
	spec.Startup = ""
	ensureOK(t, d, spec)
	if c, _ := rt.Container("plain"); c.Spec.Cmd != nil {
		t.Errorf("cmd = %q, want the image's (nil)", c.Spec.Cmd)
	}
}

func TestEnsureTwiceDoesNotRestart(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("steady")
	first := ensureOK(t, d, spec)
	record := filepath.Join(d.cfg.Dir, "instances", "steady.json")
	before, err := os.Stat(record)
	if err != nil {
		t.Fatal(err)
	}

	second := ensureOK(t, d, spec)
	if second.ContainerID != first.ContainerID || !second.Running {
		t.Errorf("second ensure: %+v, first: %+v", second, first)
	}
	if n := rt.Calls("Start"); n != 1 {
		t.Errorf("Start called %d times, want 1", n)
	}
	for _, m := range []string{"Stop", "Kill", "Remove", "recreate"} {
		if n := rt.Calls(m); n != 0 {
			t.Errorf("%s called %d times by a no-op ensure", m, n)
		}
	}
	after, err := os.Stat(record)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("a no-op ensure rewrote the spec file")
	}
}

func TestEnsureDesiredStoppedStopsWithStopCommand(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("calm")
	ensureOK(t, d, spec)

	spec.Desired = nodeapi.DesiredStopped
	spec.Generation++
	st := ensureOK(t, d, spec)
	if st.Running || st.Status != nodeapi.StatusStopped || st.Generation != spec.Generation {
		t.Errorf("status = %+v, want stopped at generation %d", st, spec.Generation)
	}
	if cmd, timeout := rt.LastStop(); cmd != "stop" || timeout != d.cfg.StopTimeout {
		t.Errorf("stop = %q %v, want command %q and timeout %v", cmd, timeout, "stop", d.cfg.StopTimeout)
	}
	// Desired state is not part of the container: nothing is recreated.
	if n := rt.Calls("recreate"); n != 0 {
		t.Errorf("recreate called %d times, want 0", n)
	}
}

func TestChangedSpecAppliesAtNextStart(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("grow")
	first := ensureOK(t, d, spec)

	spec.MemoryMiB = 2048
	spec.Generation = 2
	st := ensureOK(t, d, spec)
	// The runtime leaves a running container alone, so players stay on.
	if st.ContainerID != first.ContainerID || rt.Calls("Stop") != 0 {
		t.Fatalf("a spec change restarted a running instance: %+v", st)
	}

	st = decode[nodeapi.InstanceStatus](t, power(t, d, "grow", nodeapi.ActionRestart))
	c, _ := rt.Container("grow")
	if !st.Running || st.ContainerID == first.ContainerID || c.Spec.MemoryMiB != 2048 {
		t.Errorf("restart did not apply the new spec: %+v, memory %d", st, c.Spec.MemoryMiB)
	}
}

func TestEnsureSuspendedStopsAndStaysStopped(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("naughty")
	ensureOK(t, d, spec)
	spec.Suspended = true
	st := ensureOK(t, d, spec)
	if st.Running || !st.Suspended || st.Status != nodeapi.StatusStopped {
		t.Errorf("status = %+v, want suspended and stopped", st)
	}
	if n := rt.Calls("Start"); n != 1 {
		t.Errorf("Start called %d times, want only the first", n)
	}
}

func TestEnsureImageErrorIs422AndRecorded(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	w := putWithMissingImage(t, d, rt, "broken")
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", w.Code, w.Body)
	}
	if msg := errorText(t, w); !strings.Contains(msg, "manifest unknown") {
		t.Errorf("error %q lacks the registry's words", msg)
	}
	st := getStatus(t, d, "broken")
	if st.Status != nodeapi.StatusOffline || !strings.Contains(st.Error, "manifest unknown") || st.Generation != 0 {
		t.Errorf("status = %+v", st)
	}

	// Fixing the image clears the error.
	spec := validSpec("broken")
	spec.Generation = 2
	if st := ensureOK(t, d, spec); st.Error != "" || st.Generation != 2 {
		t.Errorf("after fix: %+v", st)
	}
}

func TestStartFailureIsRecordedInStatus(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	rt.SetError("Start", errors.New("Bind for 0.0.0.0:30001 failed: port is already allocated"))
	w := call(t, d, http.MethodPut, "/v1/instances/clash", validSpec("clash"))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "allocated") {
		t.Fatalf("PUT: %d %s, want a 500 without internals", w.Code, w.Body)
	}
	st := getStatus(t, d, "clash")
	if st.Running || !strings.Contains(st.Error, "port is already allocated") {
		t.Errorf("status = %+v, want the start failure in Error", st)
	}

	rt.SetError("Start", nil)
	if st := ensureOK(t, d, validSpec("clash")); !st.Running || st.Error != "" {
		t.Errorf("after the port is freed: %+v", st)
	}
}

func TestRuntimeDownIs503(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("x"))
	rt.SetError("Inspect", errors.New("dial unix /var/run/docker.sock: connect: no such file"))
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/v1/instances/x"},
		{http.MethodPost, "/v1/instances/x/power"},
	} {
		w := call(t, d, req.method, req.path, `{"action":"stop"}`)
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "docker.sock") {
			t.Errorf("%s %s: %d %s", req.method, req.path, w.Code, w.Body)
		}
	}
}

func TestGetInstance(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	w := call(t, d, http.MethodGet, "/v1/instances/ghost", nil)
	if w.Code != http.StatusNotFound {
		t.Fatalf("unknown instance: %d, want 404", w.Code)
	}
	errorText(t, w)
	if w := call(t, d, http.MethodGet, "/v1/instances/bad.id", nil); w.Code != http.StatusBadRequest {
		t.Errorf("invalid id: %d, want 400", w.Code)
	}
	ensureOK(t, d, validSpec("real"))
	if st := getStatus(t, d, "real"); st.Status != nodeapi.StatusRunning || st.Generation != 1 {
		t.Errorf("status = %+v", st)
	}
}

func TestStatusTellsCrashFromStop(t *testing.T) {
	cases := []struct {
		name   string
		act    func(t *testing.T, d *Daemon, rt *fake.Runtime)
		want   string
		exit   int
		oomHit bool
	}{
		// An exit nobody asked for is a crash whatever its code: the
		// panel wants the instance up.
		{"exit 0 by itself", func(t *testing.T, d *Daemon, rt *fake.Runtime) { rt.Exit("x", 0, false) }, nodeapi.StatusCrashed, 0, false},
		{"exit 1 by itself", func(t *testing.T, d *Daemon, rt *fake.Runtime) { rt.Exit("x", 1, false) }, nodeapi.StatusCrashed, 1, false},
		{"killed by OOM", func(t *testing.T, d *Daemon, rt *fake.Runtime) { rt.Exit("x", 137, true) }, nodeapi.StatusCrashed, 137, true},
		{"power stop", func(t *testing.T, d *Daemon, rt *fake.Runtime) { power(t, d, "x", nodeapi.ActionStop) }, nodeapi.StatusStopped, 143, false},
		{"power kill", func(t *testing.T, d *Daemon, rt *fake.Runtime) { power(t, d, "x", nodeapi.ActionKill) }, nodeapi.StatusStopped, 137, false},
		{"crash after a restart", func(t *testing.T, d *Daemon, rt *fake.Runtime) {
			power(t, d, "x", nodeapi.ActionStop)
			power(t, d, "x", nodeapi.ActionStart)
			rt.Exit("x", 2, false)
		}, nodeapi.StatusCrashed, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := fake.New()
			d := newTestDaemon(t, rt)
			ensureOK(t, d, validSpec("x"))
			tc.act(t, d, rt)
			st := getStatus(t, d, "x")
			if st.Status != tc.want || st.ExitCode != tc.exit || st.OOMKilled != tc.oomHit || st.Running {
				t.Errorf("status = %+v, want %s with exit %d oom %v", st, tc.want, tc.exit, tc.oomHit)
			}
		})
	}
}

func TestDeleteIsIdempotentAndRemovesData(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("gone"))
	data := filepath.Join(d.cfg.Dir, "volumes", "gone")
	if err := os.MkdirAll(filepath.Join(data, "world"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "world", "level.dat"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		w := call(t, d, http.MethodDelete, "/v1/instances/gone", nil)
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Fatalf("delete #%d: %d %s", i+1, w.Code, w.Body)
		}
		if cmd, timeout := rt.LastStop(); i == 0 && (cmd != "stop" || timeout != removeStopTimeout) {
			t.Errorf("delete stopped with %q %v, want the stop command and %v", cmd, timeout, removeStopTimeout)
		}
	}
	if _, ok := rt.Container("gone"); ok {
		t.Error("container still exists")
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data folder still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, "instances", "gone.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spec file still there: %v", err)
	}
	if w := call(t, d, http.MethodGet, "/v1/instances/gone", nil); w.Code != http.StatusNotFound {
		t.Errorf("GET after delete: %d, want 404", w.Code)
	}
	if w := call(t, d, http.MethodDelete, "/v1/instances/never-was", nil); w.Code != http.StatusNoContent {
		t.Errorf("delete of an unknown instance: %d, want 204", w.Code)
	}
}

func TestDeleteStaysInsideTheVolumesFolder(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	outside := t.TempDir()
	precious := filepath.Join(outside, "precious")
	if err := os.WriteFile(precious, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	ensureOK(t, d, validSpec("sneaky"))
	// A game server can write a symlink into its own data folder.
	if err := os.Symlink(outside, filepath.Join(d.cfg.Dir, "volumes", "sneaky", "escape")); err != nil {
		t.Fatal(err)
	}
	if w := call(t, d, http.MethodDelete, "/v1/instances/sneaky", nil); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("delete followed a symlink out of the data folder: %v", err)
	}
	for _, p := range []string{"/v1/instances/..", "/v1/instances/..%2Finstances", "/v1/instances/%2E%2E"} {
		w := call(t, d, http.MethodDelete, p, nil)
		// The mux redirects a path with dot segments to its clean form; an
		// ID with a dot or slash is refused. Neither reaches the disk.
		if w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound && w.Code/100 != 3 {
			t.Errorf("DELETE %s: %d", p, w.Code)
		}
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, "volumes")); err != nil {
		t.Errorf("volumes folder damaged: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, "instances")); err != nil {
		t.Errorf("instances folder damaged: %v", err)
	}
}

func TestListInstancesIncludesSpecsAndOrphans(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	putWithMissingImage(t, d, rt, "b-pending")
	ensureOK(t, d, validSpec("a-running"))
	rt.Put("c-orphan", false)

	w := call(t, d, http.MethodGet, "/v1/instances", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	list := decode[[]nodeapi.InstanceStatus](t, w)
	got := map[string]string{}
	var ids []string
	for _, st := range list {
		got[st.ID] = st.Status
		ids = append(ids, st.ID)
	}
	want := map[string]string{"a-running": "running", "b-pending": "offline", "c-orphan": "stopped"}
	if len(got) != len(want) || !slices.IsSorted(ids) {
		t.Fatalf("list = %+v", list)
	}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("%s: %q, want %q", id, got[id], s)
		}
	}

	rt.SetError("List", errors.New("docker: connection refused"))
	w = call(t, d, http.MethodGet, "/v1/instances", nil)
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "refused") {
		t.Errorf("list with runtime down: %d %s", w.Code, w.Body)
	}
}

func TestHealthReportsRuntime(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("one"))
	h := decode[nodeapi.Health](t, call(t, d, http.MethodGet, "/v1/health", nil))
	if !h.Docker || h.Version != "test" || h.Instances != 1 {
		t.Errorf("health = %+v", h)
	}
	rt.SetError("List", errors.New("docker down"))
	w := call(t, d, http.MethodGet, "/v1/health", nil)
	h = decode[nodeapi.Health](t, w)
	if w.Code != http.StatusOK || h.Docker || h.Instances != 1 {
		t.Errorf("health with runtime down = %d %+v", w.Code, h)
	}
}

func TestLogsTail(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("chatty"))
	rt.Print("chatty", "one\ntwo\nthree\n")

	logs := decode[nodeapi.Logs](t, call(t, d, http.MethodGet, "/v1/instances/chatty/logs", nil))
	if rt.LastTail() != nodeapi.DefaultLogTail || len(logs.Lines) != 3 {
		t.Errorf("default tail: runtime got %d, lines %q", rt.LastTail(), logs.Lines)
	}
	logs = decode[nodeapi.Logs](t, call(t, d, http.MethodGet, "/v1/instances/chatty/logs?tail=2", nil))
	if !slices.Equal(logs.Lines, []string{"two", "three"}) {
		t.Errorf("tail=2: %q", logs.Lines)
	}
	call(t, d, http.MethodGet, "/v1/instances/chatty/logs?tail=5000", nil)
	if rt.LastTail() != 5000 {
		t.Errorf("tail=5000 reached the runtime as %d", rt.LastTail())
	}
	for _, q := range []string{"0", "-1", "5001", "ten", "", "1.5", "99999999999999999999"} {
		w := call(t, d, http.MethodGet, "/v1/instances/chatty/logs?tail="+q, nil)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorText(t, w), "tail") {
			t.Errorf("tail=%q: %d %s", q, w.Code, w.Body)
		}
	}
	if w := call(t, d, http.MethodGet, "/v1/instances/nobody/logs", nil); w.Code != http.StatusNotFound {
		t.Errorf("logs of unknown instance: %d, want 404", w.Code)
	}
}

func TestLogsOfInstanceWithoutContainerAreEmpty(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	putWithMissingImage(t, d, rt, "early")
	w := call(t, d, http.MethodGet, "/v1/instances/early/logs", nil)
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"lines":[]}` {
		t.Errorf("logs: %d %s", w.Code, w.Body)
	}
}
