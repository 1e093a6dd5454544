package node

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

func TestRestartedDaemonKeepsRunningInstances(t *testing.T) {
	rt := fake.New()
	dir := t.TempDir()
	first := newTestDaemonIn(t, rt, dir, nil)
	up := validSpecAt("up", 31001)
	up.Generation = 3
	ensureOK(t, first, up)
	down := validSpec("down")
	down.Desired = nodeapi.DesiredStopped
	ensureOK(t, first, down)
	stopped := validSpecAt("stopped-by-hand", 31003)
	ensureOK(t, first, stopped)
	power(t, first, "stopped-by-hand", nodeapi.ActionStop)
	before, _ := rt.Container("up")

	rt.ResetCalls()
	second := newTestDaemonIn(t, rt, dir, nil)
	for _, m := range []string{"Ensure", "Start", "Stop", "Kill", "Remove"} {
		if n := rt.Calls(m); n != 0 {
			t.Errorf("rebuilding the daemon called %s %d times", m, n)
		}
	}
	after, _ := rt.Container("up")
	if after.State.ContainerID != before.State.ContainerID || !after.State.Running || !after.State.StartedAt.Equal(before.State.StartedAt) {
		t.Errorf("running container changed across the restart: %+v -> %+v", before.State, after.State)
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
	rt := fake.New()
	rt.Put("survivor", true)
	d := newTestDaemon(t, rt)
	if n := rt.Calls("Start") + rt.Calls("Stop") + rt.Calls("Remove"); n != 0 {
		t.Errorf("New touched containers: %d calls", n)
	}
	st := getStatus(t, d, "survivor")
	if st.Status != nodeapi.StatusRunning || st.StartedAt.IsZero() {
		t.Errorf("survivor = %+v", st)
	}
}

func TestNewServesWhileRuntimeIsDown(t *testing.T) {
	rt := fake.New()
	rt.SetError("List", errors.New("cannot connect to the Docker daemon"))
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
	newTestDaemonIn(t, fake.New(), dir, nil)
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file survived New: %v", err)
	}
}

func TestDamagedSpecFileDoesNotHideOthers(t *testing.T) {
	rt := fake.New()
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
