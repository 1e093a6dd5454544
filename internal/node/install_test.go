package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/node/install"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// installSpec is validSpec with an install script.
func installSpec(id string) nodeapi.InstanceSpec {
	spec := validSpec(id)
	spec.Install = &nodeapi.InstallSpec{Image: "example/installer:1", Entrypoint: "bash", Script: "echo hi\r\necho there\r\n"}
	return spec
}

// closeDaemon closes d when the test ends, so no install outlives it.
func closeDaemon(t *testing.T, d *Daemon) *Daemon {
	t.Helper()
	t.Cleanup(d.Close)
	return d
}

// gate is an install that waits until it is opened or its context ends.
type gate struct {
	started chan struct{}
	open    chan struct{}
	once    sync.Once
	ended   chan error
}

func newGate() *gate {
	return &gate{started: make(chan struct{}, 16), open: make(chan struct{}), ended: make(chan error, 16)}
}

func (g *gate) install(ctx context.Context, _ runtime.InstallJob, out io.Writer) (int, error) {
	fmt.Fprintln(out, "gate: waiting")
	g.started <- struct{}{}
	select {
	case <-g.open:
		fmt.Fprintln(out, "gate: opened")
		g.ended <- nil
		return 0, nil
	case <-ctx.Done():
		g.ended <- ctx.Err()
		return 0, ctx.Err()
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// waitStarted waits for the gate's next install to begin.
func (g *gate) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("install did not start")
	}
}

// waitContainerRunning waits until the fake runtime runs id's container;
// what says what that shows.
func waitContainerRunning(t *testing.T, rt *fake.Runtime, id, what string) {
	t.Helper()
	waitFor(t, what, func() bool {
		c, ok := rt.Container(id)
		return ok && c.State.Running
	})
}

// readRecord loads id's record from d's data folder.
func readRecordOf(t *testing.T, d *Daemon, id string) records.Record {
	t.Helper()
	rec, found, err := d.records.Load(id)
	if err != nil || !found {
		t.Fatalf("record of %s: found=%v err=%v", id, found, err)
	}
	return rec
}

// installLog reads the install log through the API.
func installLog(t *testing.T, d *Daemon, id, query string) nodeapi.InstallLog {
	t.Helper()
	w := call(t, d, http.MethodGet, "/v1/instances/"+id+"/install-log"+query, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET install-log of %s: %d %s", id, w.Code, w.Body)
	}
	return decode[nodeapi.InstallLog](t, w)
}

func TestEnsureOfUninstalledInstanceAnswersInstallingThenInstallCreatesAndStartsIt(t *testing.T) {
	rt := fake.New()
	g := newGate()
	rt.SetInstall(g.install)
	d := closeDaemon(t, newTestDaemon(t, rt))
	spec := installSpec("i1")

	start := time.Now()
	st := ensureOK(t, d, spec)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("ensure took %s; it must not wait for the install", took)
	}
	if !st.Installing || st.Status != nodeapi.StatusInstalling || st.Running || st.ContainerID != "" {
		t.Errorf("ensure answered %+v, want installing with no container", st)
	}
	g.waitStarted(t)
	if n := rt.Calls("Ensure"); n != 0 {
		t.Errorf("runtime Ensure called %d times during the install, want 0", n)
	}
	if st := getStatus(t, d, spec.ID); !st.Installing || st.Status != nodeapi.StatusInstalling {
		t.Errorf("GET during the install = %+v, want installing", st)
	}
	// Ensures meanwhile answer at once and start no second install.
	for range 3 {
		if st := ensureOK(t, d, spec); !st.Installing {
			t.Errorf("ensure during the install answered %+v, want installing", st)
		}
	}
	if log := installLog(t, d, spec.ID, ""); !log.Installing || log.Installed || !slices.Contains(log.Lines, "gate: waiting") {
		t.Errorf("install log during the install = %+v, want installing with the script's first line", log)
	}

	g.release()
	waitFor(t, "the instance to run after the install", func() bool {
		st := getStatus(t, d, spec.ID)
		return st.Running && st.Generation == spec.Generation
	})
	if n := rt.Calls("RunInstall"); n != 1 {
		t.Errorf("RunInstall called %d times, want 1", n)
	}
	st = getStatus(t, d, spec.ID)
	if st.Installing || st.InstallError != "" || st.Status != nodeapi.StatusRunning || st.Generation != spec.Generation {
		t.Errorf("status after the install = %+v, want running generation %d", st, spec.Generation)
	}
	if rec := readRecordOf(t, d, spec.ID); !rec.Install.Done || rec.Install.Running {
		t.Errorf("record's install = %+v, want done", rec.Install)
	}
	waitFor(t, "the install to be over", func() bool { return !d.installs.Running(spec.ID) })
	log := installLog(t, d, spec.ID, "")
	if log.Installing || !log.Installed || log.Error != "" || !slices.Contains(log.Lines, "gate: opened") {
		t.Errorf("install log after the install = %+v", log)
	}
	if !slices.Contains(log.Lines, "[berth] install finished") {
		t.Errorf("install log lacks the node's closing line: %q", log.Lines)
	}

	// Installed once: later ensures, even of a new generation, never
	// install again.
	spec.Generation++
	if st := ensureOK(t, d, spec); st.Installing || st.Status != nodeapi.StatusRunning {
		t.Errorf("ensure of an installed instance = %+v, want running", st)
	}
	if n := rt.Calls("RunInstall"); n != 1 {
		t.Errorf("RunInstall called %d times after later ensures, want 1", n)
	}
}

func TestInstallJobCarriesTheInstancesEnvironmentAndLimits(t *testing.T) {
	rt := fake.New()
	d := closeDaemon(t, newTestDaemon(t, rt))
	spec := installSpec("i1")
	spec.MemoryMiB = 256
	spec.CPU = 0.5
	ensureOK(t, d, spec)
	waitFor(t, "the install", func() bool { return rt.Calls("RunInstall") == 1 })
	jobs := rt.InstallJobs()
	job := jobs[len(jobs)-1]
	want := d.runtimeSpec(spec)
	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"instance ID", job.InstanceID == spec.ID, job.InstanceID},
		{"image", job.Image == spec.Install.Image, job.Image},
		{"entrypoint", job.Entrypoint == "bash", job.Entrypoint},
		{"script with LF line ends", job.Script == "echo hi\necho there\n", job.Script},
		{"env as the server's", slices.Equal(job.Env, want.Env), job.Env},
		{"env has SERVER_PORT", slices.Contains(job.Env, "SERVER_PORT=25565"), job.Env},
		{"data folder", job.DataDir == d.volumes.Path(spec.ID), job.DataDir},
		{"memory at least the install minimum", job.MemoryMiB == install.DefaultMinMemoryMiB, job.MemoryMiB},
		{"at least one core", job.CPU == 1, job.CPU},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
	if _, err := os.Stat(job.DataDir); err != nil {
		t.Errorf("data folder before the install script: %v", err)
	}
}

func TestFailedInstallReportsExitCodeAndLogTailAndNeverCreatesTheContainer(t *testing.T) {
	rt := fake.New()
	rt.SetInstall(func(_ context.Context, _ runtime.InstallJob, out io.Writer) (int, error) {
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(out, "line %d\n", i)
		}
		fmt.Fprint(out, "progress 10%\rprogress 100%\n")
		return 3, nil
	})
	d := closeDaemon(t, newTestDaemon(t, rt))
	spec := installSpec("i1")
	ensureOK(t, d, spec)

	var st nodeapi.InstanceStatus
	waitFor(t, "the install to fail", func() bool {
		st = getStatus(t, d, spec.ID)
		return st.InstallError != ""
	})
	if st.Installing || st.Status == nodeapi.StatusInstalling {
		t.Errorf("status of a failed install = %+v, want not installing", st)
	}
	msg := st.InstallError
	if !strings.Contains(msg, "exited with code 3") || !strings.Contains(msg, "line 30") || !strings.Contains(msg, "\nprogress 100%") {
		t.Errorf("install error %q lacks the exit code or the end of the output", msg)
	}
	if strings.Contains(msg, "line 10\n") || strings.Contains(msg, "progress 10%") {
		t.Errorf("install error %q carries more than the log's tail", msg)
	}
	if _, ok := rt.Container(spec.ID); ok {
		t.Error("a failed install created the container")
	}
	if n := rt.Calls("Ensure") + rt.Calls("Start"); n != 0 {
		t.Errorf("runtime Ensure/Start called %d times after a failed install", n)
	}
	log := installLog(t, d, spec.ID, "?tail=2")
	if len(log.Lines) != 2 || log.Lines[1] != "[berth] install script exited with code 3" || log.Error != msg || log.Installed {
		t.Errorf("install log tail = %+v", log)
	}

	// The same generation answers the same failure and installs nothing.
	if st := ensureOK(t, d, spec); st.InstallError != msg || st.Installing {
		t.Errorf("ensure of the failed generation = %+v, want the same failure", st)
	}
	if n := rt.Calls("RunInstall"); n != 1 {
		t.Errorf("RunInstall called %d times, want 1", n)
	}
	// A later generation tries again.
	rt.SetInstall(nil)
	spec.Generation++
	if st := ensureOK(t, d, spec); !st.Installing || st.InstallError != "" {
		t.Errorf("ensure of a new generation after a failure = %+v, want installing again", st)
	}
	waitContainerRunning(t, rt, spec.ID, "the container after the second install")
}

func TestInstallInterruptedByShutdownRunsAgainOnTheNextDaemon(t *testing.T) {
	rt := fake.New()
	g := newGate()
	rt.SetInstall(g.install)
	dir := t.TempDir()
	d := newTestDaemonIn(t, rt, dir, nil)
	spec := installSpec("i1")
	ensureOK(t, d, spec)
	g.waitStarted(t)

	d.Close()
	if err := <-g.ended; err == nil {
		t.Fatal("install ended without being canceled")
	}
	rec := readRecordOf(t, d, spec.ID)
	if rec.Install != (records.Install{}) {
		t.Errorf("record after an interrupted install = %+v, want a blank install state", rec.Install)
	}
	if w := call(t, d, http.MethodPut, "/v1/instances/"+spec.ID, spec); w.Code != http.StatusServiceUnavailable {
		t.Errorf("ensure on a closed daemon: %d %s, want 503", w.Code, w.Body)
	}

	next := closeDaemon(t, newTestDaemonIn(t, rt, dir, nil))
	g.release()
	if st := ensureOK(t, next, spec); !st.Installing {
		t.Errorf("ensure on the next daemon = %+v, want installing again", st)
	}
	waitContainerRunning(t, rt, spec.ID, "the container after the rerun")
	if n := rt.Calls("RunInstall"); n != 2 {
		t.Errorf("RunInstall called %d times, want 2", n)
	}
}

func TestInstallMarkedRunningByACrashedDaemonRunsAgain(t *testing.T) {
	rt := fake.New()
	dir := t.TempDir()
	d := closeDaemon(t, newTestDaemonIn(t, rt, dir, nil))
	spec := installSpec("i1")
	// What a daemon killed mid-install leaves: a record saying it runs.
	if err := d.records.Save(spec.ID, records.Record{Spec: spec, Install: records.Install{Running: true}}); err != nil {
		t.Fatal(err)
	}
	if st := getStatus(t, d, spec.ID); !st.Installing {
		t.Errorf("status of an interrupted install = %+v, want installing", st)
	}
	ensureOK(t, d, spec)
	waitContainerRunning(t, rt, spec.ID, "the container after the rerun")
	if n := rt.Calls("RunInstall"); n != 1 {
		t.Errorf("RunInstall called %d times, want 1", n)
	}
}

func TestRemoveDuringInstallCancelsItAndDeletesItsLog(t *testing.T) {
	rt := fake.New()
	g := newGate()
	rt.SetInstall(g.install)
	d := closeDaemon(t, newTestDaemon(t, rt))
	spec := installSpec("i1")
	ensureOK(t, d, spec)
	g.waitStarted(t)

	if w := call(t, d, http.MethodDelete, "/v1/instances/"+spec.ID, nil); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE during the install: %d %s", w.Code, w.Body)
	}
	select {
	case err := <-g.ended:
		if err == nil {
			t.Error("install finished instead of being canceled")
		}
	default:
		t.Error("DELETE answered before the install ended")
	}
	if _, ok := rt.Container(spec.ID); ok {
		t.Error("a container exists after removal")
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, "instances", spec.ID+".install.log")); !os.IsNotExist(err) {
		t.Errorf("install log after removal: %v, want it gone", err)
	}
	if w := call(t, d, http.MethodGet, "/v1/instances/"+spec.ID+"/install-log", nil); w.Code != http.StatusNotFound {
		t.Errorf("install-log after removal: %d %s, want 404", w.Code, w.Body)
	}
}

func TestParallelEnsuresStartOneInstall(t *testing.T) {
	rt := fake.New()
	g := newGate()
	rt.SetInstall(g.install)
	d := closeDaemon(t, newTestDaemon(t, rt))
	spec := installSpec("i1")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { ensureOK(t, d, spec) })
	}
	wg.Wait()
	g.waitStarted(t)
	if n := rt.Calls("RunInstall"); n != 1 {
		t.Errorf("10 parallel ensures ran %d installs, want 1", n)
	}
	g.release()
}

func TestInstanceCreatedBeforeItHadAnInstallIsNotInstalled(t *testing.T) {
	rt := fake.New()
	d := closeDaemon(t, newTestDaemon(t, rt))
	spec := validSpec("i1")
	ensureOK(t, d, spec)
	spec = installSpec("i1")
	spec.Generation = 2
	if st := ensureOK(t, d, spec); st.Installing || st.Status != nodeapi.StatusRunning {
		t.Errorf("ensure adding an install to a created instance = %+v, want running without install", st)
	}
	if n := rt.Calls("RunInstall"); n != 0 {
		t.Errorf("RunInstall called %d times on a created instance, want 0", n)
	}
}

func TestInstallLogEndpointRefusesBadTailAndUnknownInstance(t *testing.T) {
	rt := fake.New()
	d := closeDaemon(t, newTestDaemon(t, rt))
	if w := call(t, d, http.MethodGet, "/v1/instances/nope/install-log", nil); w.Code != http.StatusNotFound {
		t.Errorf("install-log of an unknown instance: %d %s, want 404", w.Code, w.Body)
	}
	ensureOK(t, d, validSpec("plain"))
	if log := installLog(t, d, "plain", ""); len(log.Lines) != 0 || log.Installing || log.Installed {
		t.Errorf("install log of an instance without install = %+v, want empty", log)
	}
	for _, q := range []string{"?tail=0", "?tail=x", "?tail=5001"} {
		w := call(t, d, http.MethodGet, "/v1/instances/plain/install-log"+q, nil)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorText(t, w), "tail") {
			t.Errorf("install-log%s: %d %s, want 400 naming tail", q, w.Code, w.Body)
		}
	}
}

func TestInstallOverItsTimeoutFails(t *testing.T) {
	rt := fake.New()
	g := newGate()
	rt.SetInstall(g.install)
	d, err := New(Config{Dir: t.TempDir(), TokenSHA256: secret.Hash(testToken), Version: "test",
		Install: InstallConfig{Timeout: 50 * time.Millisecond}}, rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeDaemon(t, d)
	spec := installSpec("i1")
	ensureOK(t, d, spec)
	var st nodeapi.InstanceStatus
	waitFor(t, "the install to time out", func() bool {
		st = getStatus(t, d, spec.ID)
		return st.InstallError != ""
	})
	if !strings.Contains(st.InstallError, "timed out after 50ms") {
		t.Errorf("install error = %q, want a timeout", st.InstallError)
	}
	if _, ok := rt.Container(spec.ID); ok {
		t.Error("a timed-out install created the container")
	}
}
