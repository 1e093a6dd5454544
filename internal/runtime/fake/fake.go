// Package fake is an in-memory runtime.Runtime, like Nomad's mock driver:
// containers are map entries and processes are a running flag, but they
// behave as the Docker runtime's do (labels, states, exit codes, console
// streams, stats, install runs, host ports), so that the node daemon, and
// whatever drives it, can be tested without Docker.
//
// The fake's processes never act on their standard input: what a console
// writes is recorded (Container.Stdin), and a Stop records its stop
// command there and ends the process as the SIGTERM that follows would
// (exit code 143), without waiting out the timeout. A test plays the game
// with Print (output), Exit (an exit of its own) and SetInstall (an
// install script). It also controls the runtime: SetError fails a method,
// FailImage makes an image unpullable, and SetHook runs in every call, so
// a test can block one; Calls and Overlaps tell what the daemon asked.
//
// A Runtime is safe for concurrent use.
package fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
)

// Limits of what the fake keeps, as Docker's bounded log files do.
const (
	// MaxLogBytes caps a container's kept output; the oldest lines go.
	MaxLogBytes = 1 << 20
	// StatsInterval is how often StreamStats samples.
	StatsInterval = time.Second
)

// InstallFunc plays an install script: it gets the job and the output
// stream of RunInstall and answers its exit code, or an error when the
// script could not run to its end.
type InstallFunc func(ctx context.Context, job runtime.InstallJob, output io.Writer) (exitCode int, err error)

// Container is what the fake holds of one instance's container, as
// Runtime.Container returns it.
type Container struct {
	State  runtime.State
	Spec   runtime.Spec
	Labels map[string]string
	// Logs is the output kept, oldest first.
	Logs []string
	// Stdin is what was written to the process's standard input, line by
	// line, stop commands included.
	Stdin []string
	// Stats is the sample Stats and StreamStats answer while it runs.
	Stats runtime.Stats
}

// container is a Container plus its live parts.
type container struct {
	Container
	logBytes int
	// done is closed when the current run of the process ends.
	done chan struct{}
	// consoles are the attached output streams of the current run.
	consoles map[*console]struct{}
}

// Runtime is the fake runtime. Its zero value is not usable; call New.
type Runtime struct {
	mu         sync.Mutex
	containers map[string]*container
	nextID     int
	images     map[string]bool
	badImages  map[string]bool
	// missing holds, by image, the paths HasFile says it lacks.
	missing    map[string]map[string]bool
	errs       map[string]error
	calls      map[string]int
	active     map[string]int
	overlaps   map[string]int
	hook       func(method, id string)
	install    InstallFunc
	jobs       []runtime.InstallJob
	installing map[string]context.CancelFunc

	lastStop struct {
		command string
		timeout time.Duration
	}
	lastKill string
	lastTail int
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty fake runtime.
func New() *Runtime {
	return &Runtime{
		containers: map[string]*container{},
		images:     map[string]bool{},
		badImages:  map[string]bool{},
		missing:    map[string]map[string]bool{},
		errs:       map[string]error{},
		calls:      map[string]int{},
		active:     map[string]int{},
		overlaps:   map[string]int{},
		installing: map[string]context.CancelFunc{},
	}
}

// SetHook makes fn run at the start of every later call (without the
// runtime's lock held), with the method's name and the instance's ID
// ("" for List); a test can block in it.
func (f *Runtime) SetHook(fn func(method, id string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// SetError makes every later call of method (such as "List", "Start",
// "Inspect") fail with err; nil ends it.
func (f *Runtime) SetError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, method)
		return
	}
	f.errs[method] = err
}

// FailImage makes image unpullable: Ensure answers runtime.ErrImage.
func (f *Runtime) FailImage(image string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.badImages[image] = true
}

// SetInstall makes fn play every later install; without one, an install
// prints a line and succeeds.
func (f *Runtime) SetInstall(fn InstallFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.install = fn
}

// Calls returns how many times method was called.
func (f *Runtime) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// ResetCalls forgets the calls made so far.
func (f *Runtime) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

// Overlaps returns how many times a call changing the instance's
// container began while another was still running. Kill is left out: its
// signal goes out at once, without waiting for the daemon's instance lock,
// and overlapping is its job.
func (f *Runtime) Overlaps(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overlaps[id]
}

// LastStop returns the stop command and timeout of the latest Stop.
func (f *Runtime) LastStop() (command string, timeout time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastStop.command, f.lastStop.timeout
}

// LastKillSignal returns the signal of the latest Kill.
func (f *Runtime) LastKillSignal() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastKill
}

// LastTail returns the tail asked for by the latest Logs.
func (f *Runtime) LastTail() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastTail
}

// InstallJobs returns the jobs of every RunInstall so far, oldest first.
func (f *Runtime) InstallJobs() []runtime.InstallJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.jobs)
}

// Container returns a copy of the instance's container, if it has one.
func (f *Runtime) Container(id string) (Container, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return Container{}, false
	}
	out := c.Container
	out.Labels = maps.Clone(c.Labels)
	out.Logs = slices.Clone(c.Logs)
	out.Stdin = slices.Clone(c.Stdin)
	return out, true
}

// Put adds a container as if an earlier daemon had created it, running
// or exited (with code 0).
func (f *Runtime) Put(id string, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.newContainer(runtime.Spec{InstanceID: id})
	c.State.Status = "exited"
	if running {
		c.State.StartedAt = time.Unix(1700000000, 0).UTC()
		c.startLocked(c.State.StartedAt)
	}
	f.containers[id] = c
}

// Exit ends the instance's process as if it exited by itself with code,
// killed by the kernel for memory when oom is set. It does nothing to a
// container that is not running.
func (f *Runtime) Exit(id string, code int, oom bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		c.exitLocked(code, oom)
	}
}

// SetStats sets the sample the instance's container reports while it
// runs.
func (f *Runtime) SetStats(id string, s runtime.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		c.Stats = s
	}
}

// Print has the instance's process write text to its output: it is kept
// in the logs and sent to every attached console, whose reader must take
// it before Print returns. It reports whether the process was running to
// print it.
func (f *Runtime) Print(id, text string) bool {
	f.mu.Lock()
	c, ok := f.containers[id]
	if !ok || !c.State.Running {
		f.mu.Unlock()
		return false
	}
	for line := range strings.Lines(text) {
		c.logLocked(strings.TrimSuffix(line, "\n"))
	}
	consoles := slices.Collect(maps.Keys(c.consoles))
	f.mu.Unlock()
	for _, con := range consoles {
		// A console closed meanwhile fails the write; nothing is lost
		// that a reader would have seen.
		_, _ = io.WriteString(con.w, text)
	}
	return true
}

// enter counts a call, runs the hook, and for a call changing the
// container (mutating) marks it active until the returned function runs.
func (f *Runtime) enter(method, id string, mutating bool) (leave func()) {
	f.mu.Lock()
	f.calls[method]++
	if mutating {
		f.active[id]++
		if f.active[id] > 1 {
			f.overlaps[id]++
		}
	}
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(method, id)
	}
	return func() {
		if mutating {
			f.mu.Lock()
			f.active[id]--
			f.mu.Unlock()
		}
	}
}

// newContainer makes a container from spec, labelled as the Docker
// runtime labels its own. The caller holds f.mu.
func (f *Runtime) newContainer(spec runtime.Spec) *container {
	f.nextID++
	hash := SpecHash(spec)
	return &container{Container: Container{
		Spec: spec,
		Labels: map[string]string{
			runtime.LabelManaged:  "true",
			runtime.LabelInstance: spec.InstanceID,
			runtime.LabelSpecHash: hash,
		},
		State: runtime.State{
			InstanceID:  spec.InstanceID,
			ContainerID: fmt.Sprintf("fake%06d", f.nextID),
			Image:       spec.Image,
			SpecHash:    hash,
			Status:      "created",
		},
	}}
}

// SpecHash is the hash the fake labels a container with: two specs with
// the same hash make the same container.
func SpecHash(s runtime.Spec) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// startLocked starts a new run of the process at now.
func (c *container) startLocked(now time.Time) {
	c.State.Running = true
	c.State.Status = "running"
	c.State.ExitCode = 0
	c.State.OOMKilled = false
	c.State.StartedAt = now
	c.done = make(chan struct{})
}

// exitLocked ends the current run with code: the attached consoles see
// the end of their output, and waiters are woken.
func (c *container) exitLocked(code int, oom bool) {
	if !c.State.Running {
		return
	}
	c.State.Running = false
	c.State.Status = "exited"
	c.State.ExitCode = code
	c.State.OOMKilled = oom
	c.State.FinishedAt = time.Now().UTC()
	close(c.done)
	for con := range c.consoles {
		_ = con.w.Close()
	}
	c.consoles = nil
}

// logLocked keeps line, dropping the oldest past MaxLogBytes.
func (c *container) logLocked(line string) {
	c.Logs = append(c.Logs, line)
	c.logBytes += len(line)
	for c.logBytes > MaxLogBytes && len(c.Logs) > 1 {
		c.logBytes -= len(c.Logs[0])
		c.Logs = c.Logs[1:]
	}
}

// Ensure creates the container, or recreates a stopped one whose spec
// changed; a running one is left alone.
func (f *Runtime) Ensure(ctx context.Context, spec runtime.Spec, progress func(string)) (runtime.State, error) {
	defer f.enter("Ensure", spec.InstanceID, true)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Ensure"]; err != nil {
		return runtime.State{}, err
	}
	if f.badImages[spec.Image] {
		return runtime.State{}, fmt.Errorf("%w: pull %s: manifest unknown", runtime.ErrImage, spec.Image)
	}
	if !f.images[spec.Image] {
		f.images[spec.Image] = true
		if progress != nil {
			progress("pulled " + spec.Image)
		}
	}
	if c, ok := f.containers[spec.InstanceID]; ok {
		if c.State.Running || c.State.SpecHash == SpecHash(spec) {
			return c.State, nil
		}
		f.calls["recreate"]++
	}
	c := f.newContainer(spec)
	f.containers[spec.InstanceID] = c
	return c.State, nil
}

// Start starts the process; starting a running one is a no-op. Like
// Docker, it fails when a host port is published by another running
// container.
func (f *Runtime) Start(ctx context.Context, id string) error {
	defer f.enter("Start", id, true)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Start"]; err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if c.State.Running {
		return nil
	}
	for _, other := range f.containers {
		if other == c || !other.State.Running {
			continue
		}
		for _, p := range c.Spec.Ports {
			for _, q := range other.Spec.Ports {
				if p.Host == q.Host {
					return fmt.Errorf("Bind for 0.0.0.0:%d failed: port is already allocated", p.Host)
				}
			}
		}
	}
	c.startLocked(time.Now().UTC())
	return nil
}

// Stop records stopCommand on the process's stdin, or sends its signal
// when it is written "^SIGNAL", and ends the process (see the package
// comment). Stopping a stopped container is a no-op.
func (f *Runtime) Stop(ctx context.Context, id, stopCommand string, timeout time.Duration) error {
	defer f.enter("Stop", id, true)()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastStop.command, f.lastStop.timeout = stopCommand, timeout
	if err := f.errs["Stop"]; err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if !c.State.Running {
		return nil
	}
	if sig, ok := strings.CutPrefix(stopCommand, "^"); ok {
		code, err := signalCode(sig)
		if err != nil {
			return err
		}
		c.exitLocked(code, false)
		return nil
	}
	if stopCommand != "" {
		c.Stdin = append(c.Stdin, stopCommand)
	}
	c.exitLocked(128+15, false)
	return nil
}

// signalCode is the exit code of a process ended by signal sig ("SIGKILL",
// "KILL" or "9"; empty means SIGKILL).
func signalCode(sig string) (int, error) {
	numbers := map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15}
	if sig == "" {
		return 128 + 9, nil
	}
	if n, ok := numbers[strings.TrimPrefix(strings.ToUpper(sig), "SIG")]; ok {
		return 128 + n, nil
	}
	for _, n := range numbers {
		if sig == fmt.Sprint(n) {
			return 128 + n, nil
		}
	}
	return 0, fmt.Errorf("invalid signal: %s", sig)
}

// Kill sends signal (default SIGKILL), which ends the fake's process
// whatever it is.
func (f *Runtime) Kill(ctx context.Context, id, signal string) error {
	defer f.enter("Kill", id, false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastKill = signal
	if err := f.errs["Kill"]; err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	code, err := signalCode(signal)
	if err != nil {
		return err
	}
	c.exitLocked(code, false)
	return nil
}

// Remove deletes the container, killing its process, and any install of
// the instance.
func (f *Runtime) Remove(ctx context.Context, id string) error {
	defer f.enter("Remove", id, true)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Remove"]; err != nil {
		return err
	}
	if cancel := f.installing[id]; cancel != nil {
		cancel()
	}
	if c, ok := f.containers[id]; ok {
		c.exitLocked(128+9, false)
		delete(f.containers, id)
	}
	return nil
}

// Inspect reports the container's state.
func (f *Runtime) Inspect(ctx context.Context, id string) (runtime.State, error) {
	defer f.enter("Inspect", id, false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Inspect"]; err != nil {
		return runtime.State{}, err
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.State{}, runtime.ErrNotFound
	}
	return c.State, nil
}

// List reports the instances' containers (those labelled
// runtime.LabelManaged; install runs are not), sorted by instance ID.
func (f *Runtime) List(ctx context.Context) ([]runtime.State, error) {
	defer f.enter("List", "", false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["List"]; err != nil {
		return nil, err
	}
	var out []runtime.State
	for _, c := range f.containers {
		if listed(c.Labels) {
			out = append(out, c.State)
		}
	}
	slices.SortFunc(out, func(a, b runtime.State) int { return strings.Compare(a.InstanceID, b.InstanceID) })
	return out, nil
}

// listed decides which containers List reports, from their labels, as
// the Docker runtime's label filter does.
func listed(labels map[string]string) bool {
	return labels[runtime.LabelManaged] != ""
}

// Logs returns up to tail of the latest output lines.
func (f *Runtime) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	defer f.enter("Logs", id, false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTail = tail
	if err := f.errs["Logs"]; err != nil {
		return nil, err
	}
	c, ok := f.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	return slices.Clone(c.Logs[max(len(c.Logs)-tail, 0):]), nil
}

// Attach connects to the process's streams: its output from now on (or
// from its next start), until the process ends, and its stdin.
func (f *Runtime) Attach(ctx context.Context, id string) (runtime.Console, error) {
	defer f.enter("Attach", id, false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Attach"]; err != nil {
		return nil, err
	}
	c, ok := f.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	r, w := io.Pipe()
	con := &console{f: f, id: id, r: r, w: w}
	if c.consoles == nil {
		c.consoles = map[*console]struct{}{}
	}
	// Attached to a container that does not run, as Docker's attach, it
	// streams the output of the next start: the node attaches first so
	// that it misses no early line.
	c.consoles[con] = struct{}{}
	return con, nil
}

// console is an attachment to a container's streams.
type console struct {
	f  *Runtime
	id string
	r  *io.PipeReader
	w  *io.PipeWriter
}

func (c *console) Output() io.Reader { return c.r }

// Write records p on the process's stdin, line by line.
func (c *console) Write(p []byte) (int, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	ct, ok := c.f.containers[c.id]
	if !ok || !ct.State.Running {
		return 0, io.ErrClosedPipe
	}
	for line := range strings.Lines(string(p)) {
		ct.Stdin = append(ct.Stdin, strings.TrimSuffix(line, "\n"))
	}
	return len(p), nil
}

func (c *console) Close() error {
	c.f.mu.Lock()
	if ct, ok := c.f.containers[c.id]; ok {
		delete(ct.consoles, c)
	}
	c.f.mu.Unlock()
	_ = c.w.Close()
	return c.r.Close()
}

// Stats samples the container once: its Stats while it runs, zeros when
// it does not.
func (f *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	defer f.enter("Stats", id, false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Stats"]; err != nil {
		return runtime.Stats{}, err
	}
	c, ok := f.containers[id]
	if !ok {
		return runtime.Stats{}, runtime.ErrNotFound
	}
	if !c.State.Running {
		return runtime.Stats{}, nil
	}
	return c.Stats, nil
}

// RemoveFile makes HasFile report that containers of image lack the
// file at p; every other file of every image is there.
func (f *Runtime) RemoveFile(image, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing[image] == nil {
		f.missing[image] = map[string]bool{}
	}
	f.missing[image][p] = true
}

// HasFile reports whether the container's image has the file at p: every
// image has every file but those RemoveFile took out.
func (f *Runtime) HasFile(ctx context.Context, id, p string) (bool, error) {
	defer f.enter("HasFile", id, false)()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["HasFile"]; err != nil {
		return false, err
	}
	c, ok := f.containers[id]
	if !ok {
		return false, runtime.ErrNotFound
	}
	return !f.missing[c.Spec.Image][p], nil
}

// StreamStats calls fn with a sample at once and then every
// StatsInterval, until ctx ends or the process ends.
func (f *Runtime) StreamStats(ctx context.Context, id string, fn func(runtime.Stats)) error {
	defer f.enter("StreamStats", id, false)()
	tick := time.NewTicker(StatsInterval)
	defer tick.Stop()
	for {
		f.mu.Lock()
		c, ok := f.containers[id]
		var s runtime.Stats
		var done chan struct{}
		if ok && c.State.Running {
			s, done = c.Stats, c.done
		}
		f.mu.Unlock()
		switch {
		case !ok:
			return runtime.ErrNotFound
		case done == nil:
			return nil
		}
		fn(s)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return nil
		case <-tick.C:
		}
	}
}

// Wait blocks until the process is not running and reports the final
// state; it is not counted as a call, since supervisors make it on their
// own.
func (f *Runtime) Wait(ctx context.Context, id string) (runtime.State, error) {
	for {
		f.mu.Lock()
		c, ok := f.containers[id]
		var st runtime.State
		var done chan struct{}
		if ok {
			st, done = c.State, c.done
		}
		f.mu.Unlock()
		switch {
		case !ok:
			return runtime.State{}, runtime.ErrNotFound
		case !st.Running:
			return st, nil
		}
		select {
		case <-ctx.Done():
			return runtime.State{}, ctx.Err()
		case <-done:
		}
	}
}

// RunInstall records job and plays the install with the InstallFunc of
// SetInstall, or prints a line and succeeds without one. Remove of the
// instance cancels it, as it kills a real install container.
func (f *Runtime) RunInstall(ctx context.Context, job runtime.InstallJob, output io.Writer) (int, error) {
	defer f.enter("RunInstall", job.InstanceID, false)()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.mu.Lock()
	if err := f.errs["RunInstall"]; err != nil {
		f.mu.Unlock()
		return 0, err
	}
	f.jobs = append(f.jobs, job)
	fn := f.install
	f.installing[job.InstanceID] = cancel
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.installing, job.InstanceID)
		f.mu.Unlock()
	}()
	if fn == nil {
		_, err := io.WriteString(output, "fake install ran\n")
		return 0, err
	}
	return fn(ctx, job, output)
}
