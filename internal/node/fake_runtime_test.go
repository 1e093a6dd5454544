package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
)

// fakeRuntime is an in-memory runtime.Runtime: containers are map entries,
// processes are a Running flag. It counts calls and notices when two
// operations on one instance overlap, so tests can check what the daemon
// asked for without Docker.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	calls      map[string]int
	nextID     int
	// badImages fail Ensure with runtime.ErrImage.
	badImages map[string]bool
	// listErr, when set, is returned by List.
	listErr error
	// startErr and inspectErr, when set, are returned by Start and Inspect.
	startErr   error
	inspectErr error
	// panicOnList makes List panic, to exercise the panic handler.
	panicOnList bool
	// active counts operations in progress per instance; overlaps counts
	// the times one began while another was still running. Kill is left
	// out of both (see Kill).
	active   map[string]int
	overlaps map[string]int
	// hook, when set, runs (without mu held) at the start of each mutating
	// call, after it is counted as active: tests block in it.
	hook func(method, id string)
	// lastStop remembers the arguments of the latest Stop.
	lastStop struct {
		command string
		timeout time.Duration
	}
	lastKillSignal string
	lastTail       int
	// install, when set, plays RunInstall (fake_install_test.go).
	install     fakeInstall
	installJobs []runtime.InstallJob
}

type fakeContainer struct {
	state runtime.State
	spec  runtime.Spec
	logs  []string
}

var _ runtime.Runtime = (*fakeRuntime)(nil)

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{
		containers: map[string]*fakeContainer{},
		calls:      map[string]int{},
		badImages:  map[string]bool{},
		active:     map[string]int{},
		overlaps:   map[string]int{},
	}
}

// count returns how many times method was called.
func (f *fakeRuntime) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// resetCalls forgets the calls made so far.
func (f *fakeRuntime) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

// enter counts a mutating call and marks it active until the returned
// function runs.
func (f *fakeRuntime) enter(method, id string) (leave func()) {
	f.mu.Lock()
	f.calls[method]++
	f.active[id]++
	if f.active[id] > 1 {
		f.overlaps[id]++
	}
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(method, id)
	}
	return func() {
		f.mu.Lock()
		f.active[id]--
		f.mu.Unlock()
	}
}

func (f *fakeRuntime) overlapCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overlaps[id]
}

// container returns a copy of the instance's container, if any.
func (f *fakeRuntime) container(id string) (fakeContainer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fakeContainer{}, false
	}
	return *c, true
}

// exit ends the instance's process as if it exited by itself.
func (f *fakeRuntime) exit(id string, code int, oom bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.state.Running = false
	c.state.Status = "exited"
	c.state.ExitCode = code
	c.state.OOMKilled = oom
}

// put adds a container as if a previous daemon had created it.
func (f *fakeRuntime) put(id string, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	c := &fakeContainer{state: runtime.State{
		InstanceID:  id,
		ContainerID: fmt.Sprintf("c%d", f.nextID),
		Running:     running,
		Status:      "exited",
	}}
	if running {
		c.state.Status = "running"
		c.state.StartedAt = time.Unix(1700000000, 0).UTC()
	}
	f.containers[id] = c
}

func specHash(s runtime.Spec) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (f *fakeRuntime) Ensure(ctx context.Context, spec runtime.Spec, progress func(string)) (runtime.State, error) {
	defer f.enter("Ensure", spec.InstanceID)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.badImages[spec.Image] {
		return runtime.State{}, fmt.Errorf("%w: pull %s: manifest unknown", runtime.ErrImage, spec.Image)
	}
	hash := specHash(spec)
	if c, ok := f.containers[spec.InstanceID]; ok {
		if c.state.Running || c.state.SpecHash == hash {
			return c.state, nil
		}
		f.calls["recreate"]++
	}
	f.nextID++
	c := &fakeContainer{spec: spec, state: runtime.State{
		InstanceID:  spec.InstanceID,
		ContainerID: fmt.Sprintf("c%d", f.nextID),
		Image:       spec.Image,
		SpecHash:    hash,
		Status:      "created",
	}}
	f.containers[spec.InstanceID] = c
	return c.state, nil
}

func (f *fakeRuntime) Start(ctx context.Context, id string) error {
	defer f.enter("Start", id)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return f.startErr
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if !c.state.Running {
		c.state.Running = true
		c.state.Status = "running"
		c.state.ExitCode = 0
		c.state.OOMKilled = false
		c.state.StartedAt = time.Now().UTC()
	}
	return nil
}

func (f *fakeRuntime) Stop(ctx context.Context, id, stopCommand string, timeout time.Duration) error {
	defer f.enter("Stop", id)()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastStop.command, f.lastStop.timeout = stopCommand, timeout
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if c.state.Running {
		// 143 is what a process killed by SIGTERM reports.
		c.state.Running, c.state.Status, c.state.ExitCode = false, "exited", 143
	}
	return nil
}

// Kill is counted but takes no part in the overlap count: a kill's signal
// goes out at once, without waiting for the instance lock, so that it never
// queues behind a stuck start or stop (Daemon.power). Overlapping is its job.
func (f *fakeRuntime) Kill(ctx context.Context, id, signal string) error {
	f.mu.Lock()
	f.calls["Kill"]++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook("Kill", id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastKillSignal = signal
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	c.state.Running, c.state.Status, c.state.ExitCode = false, "exited", 137
	return nil
}

func (f *fakeRuntime) Remove(ctx context.Context, id string) error {
	defer f.enter("Remove", id)()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	return nil
}

func (f *fakeRuntime) Inspect(ctx context.Context, id string) (runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Inspect"]++
	if f.inspectErr != nil {
		return runtime.State{}, f.inspectErr
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.State{}, runtime.ErrNotFound
	}
	return c.state, nil
}

func (f *fakeRuntime) List(ctx context.Context) ([]runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["List"]++
	if f.panicOnList {
		panic("fake: secret internal detail")
	}
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []runtime.State
	for _, c := range f.containers {
		out = append(out, c.state)
	}
	return out, nil
}

func (f *fakeRuntime) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Logs"]++
	f.lastTail = tail
	c, ok := f.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	lines := c.logs
	if len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return lines, nil
}

var errFakeUnsupported = errors.New("fake runtime: not supported")

func (f *fakeRuntime) Attach(ctx context.Context, id string) (runtime.Console, error) {
	return nil, errFakeUnsupported
}

func (f *fakeRuntime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	return runtime.Stats{}, errFakeUnsupported
}
