package node

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
)

func TestRestartedDaemonKeepsRunningInstances(t *testing.T) {
	rt := newFakeRuntime()
	dir := t.TempDir()
	first := newTestDaemonIn(t, rt, dir, nil)
	up := validSpec("up")
	up.Generation = 3
	ensureOK(t, first, up)
	down := validSpec("down")
	down.Desired = nodeapi.DesiredStopped
	ensureOK(t, first, down)
	stopped := validSpec("stopped-by-hand")
	ensureOK(t, first, stopped)
	power(t, first, "stopped-by-hand", nodeapi.ActionStop)
	before, _ := rt.container("up")

	rt.resetCalls()
	second := newTestDaemonIn(t, rt, dir, nil)
	for _, m := range []string{"Ensure", "Start", "Stop", "Kill", "Remove"} {
		if n := rt.count(m); n != 0 {
			t.Errorf("rebuilding the daemon called %s %d times", m, n)
		}
	}
	after, _ := rt.container("up")
	if after.state.ContainerID != before.state.ContainerID || !after.state.Running || !after.state.StartedAt.Equal(before.state.StartedAt) {
		t.Errorf("running container changed across the restart: %+v -> %+v", before.state, after.state)
	}

	want := map[string]nodeapi.InstanceStatus{
		"up":              {Status: nodeapi.StatusRunning, Running: true, Generation: 3},
		"down":            {Status: nodeapi.StatusStopped, Generation: 1},
		"stopped-by-hand": {Status: nodeapi.StatusStopped, Generation: 1, ExitCode: 143},
	}
	list := decode[[]nodeapi.InstanceStatus](t, call(t, second, http.MethodGet, "/v1/instances", nil))
	if len(list) != len(want) {
		t.Fatalf("list after restart = %+v", list)
	}
	for _, st := range list {
		w := want[st.ID]
		if st.Status != w.Status || st.Running != w.Running || st.Generation != w.Generation || st.ExitCode != w.ExitCode {
			t.Errorf("%s after restart = %+v, want %+v", st.ID, st, w)
		}
	}
}

func TestRestartedDaemonSeesContainersOfAnEarlierLife(t *testing.T) {
	rt := newFakeRuntime()
	rt.put("survivor", true)
	d := newTestDaemon(t, rt)
	if n := rt.count("Start") + rt.count("Stop") + rt.count("Remove"); n != 0 {
		t.Errorf("New touched containers: %d calls", n)
	}
	st := getStatus(t, d, "survivor")
	if st.Status != nodeapi.StatusRunning || st.StartedAt.IsZero() {
		t.Errorf("survivor = %+v", st)
	}
}

func TestNewServesWhileRuntimeIsDown(t *testing.T) {
	rt := newFakeRuntime()
	rt.listErr = errors.New("cannot connect to the Docker daemon")
	d := newTestDaemon(t, rt)
	w := call(t, d, http.MethodGet, "/v1/health", nil)
	if h := decode[nodeapi.Health](t, w); w.Code != http.StatusOK || h.Docker {
		t.Errorf("health = %d %+v", w.Code, h)
	}
}

func TestNewSweepsInterruptedWrites(t *testing.T) {
	dir := t.TempDir()
	instances := filepath.Join(dir, "instances")
	if err := os.MkdirAll(instances, 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(instances, ".berth-tmp-0011")
	if err := os.WriteFile(leftover, []byte(`{"spec":`), 0o600); err != nil {
		t.Fatal(err)
	}
	newTestDaemonIn(t, newFakeRuntime(), dir, nil)
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file survived New: %v", err)
	}
}

func TestDamagedSpecFileDoesNotHideOthers(t *testing.T) {
	rt := newFakeRuntime()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("fine"))
	if err := os.WriteFile(filepath.Join(d.cfg.Dir, "instances", "broken.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := decode[[]nodeapi.InstanceStatus](t, call(t, d, http.MethodGet, "/v1/instances", nil))
	if len(list) != 1 || list[0].ID != "fine" {
		t.Errorf("list = %+v", list)
	}
}
