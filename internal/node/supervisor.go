package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// Every instance with a record has a supervisor: the owner of its power
// state machine, of the goroutines that follow its container (output
// reader, exit waiter, stats stream, crash restart), and of its console
// clients. The Daemon owns the supervisors and Close stops them all; the
// containers themselves keep running, and the next daemon adopts them.
//
// Power actions still run one at a time under the instance lock (locks.go),
// which is the one path that changes an instance. A supervisor's own mutex
// only guards its fields and is never held across a runtime call.

// errSupervisorClosed refuses a start while the daemon shuts down.
var errSupervisorClosed = &apiError{http.StatusServiceUnavailable, "node is shutting down"}

// transitions lists, for each power state, the states it may move to.
// Anything else is a bug, logged and refused.
var transitions = map[string][]string{
	// offline: no container, or nothing known yet.
	nodeapi.StatusOffline: {nodeapi.StatusStarting, nodeapi.StatusRunning, nodeapi.StatusStopped, nodeapi.StatusCrashed},
	// starting: the process runs, the template's ready pattern has not
	// appeared yet.
	nodeapi.StatusStarting: {nodeapi.StatusRunning, nodeapi.StatusStopping, nodeapi.StatusStopped, nodeapi.StatusCrashed, nodeapi.StatusOffline},
	nodeapi.StatusRunning:  {nodeapi.StatusStopping, nodeapi.StatusStopped, nodeapi.StatusCrashed, nodeapi.StatusOffline},
	// stopping: the node asked the process to end and waits for it.
	nodeapi.StatusStopping: {nodeapi.StatusStopped, nodeapi.StatusRunning, nodeapi.StatusOffline},
	// stopped: down because it was asked to be, or exited while not wanted.
	nodeapi.StatusStopped: {nodeapi.StatusStarting, nodeapi.StatusRunning, nodeapi.StatusOffline},
	// crashed: down after an exit nobody asked for.
	nodeapi.StatusCrashed: {nodeapi.StatusStarting, nodeapi.StatusRunning, nodeapi.StatusStopped, nodeapi.StatusOffline},
}

// canTransition reports whether the table allows from -> to.
func canTransition(from, to string) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Timings of the supervisor's own waits.
const (
	// drainWait is how long an exit waits for the reader to hand over the
	// last lines, so that the exit notice comes after them.
	drainWait = 500 * time.Millisecond
	// killWait bounds a kill's wait for the container to end.
	killWait = 30 * time.Second
	// stableRun is how long a run must last for its crash to start a new
	// series of restarts rather than continue the last one.
	stableRun = 10 * time.Minute
	// supervisorCallTimeout bounds the runtime calls a supervisor makes on
	// its own (adoption, crash recording).
	supervisorCallTimeout = 30 * time.Second
)

// supervisors is the Daemon's set of supervisors, one per instance.
type supervisors struct {
	d      *Daemon
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	m      map[string]*supervisor
	closed bool
}

func (ss *supervisors) init(d *Daemon) {
	ss.d = d
	ss.ctx, ss.cancel = context.WithCancel(context.Background())
	ss.m = map[string]*supervisor{}
}

// get returns id's supervisor, creating it on first use.
func (ss *supervisors) get(id string) *supervisor {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		s = newSupervisor(ss.d, id)
		// One asked for while the daemon closes starts nothing.
		s.closed = ss.closed
		ss.m[id] = s
		if ss.d.cfg.KeepStats && !s.closed {
			s.startStatsLocked()
		}
	}
	return s
}

// lookup returns id's supervisor, or nil when it has none.
func (ss *supervisors) lookup(id string) *supervisor {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.m[id]
}

// drop ends id's supervisor, after its instance was removed.
func (ss *supervisors) drop(id string) {
	ss.mu.Lock()
	s := ss.m[id]
	delete(ss.m, id)
	ss.mu.Unlock()
	if s != nil {
		s.shutdown()
	}
}

// goAsync runs fn in a goroutine that close waits for; fn's ctx ends when
// the daemon closes.
func (ss *supervisors) goAsync(fn func(ctx context.Context)) {
	ss.wg.Go(func() { fn(ss.ctx) })
}

// close stops every supervisor's goroutines and console clients and waits
// for them. Containers are left as they are.
func (ss *supervisors) close() {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	list := make([]*supervisor, 0, len(ss.m))
	for _, s := range ss.m {
		list = append(list, s)
	}
	ss.mu.Unlock()
	ss.cancel()
	for _, s := range list {
		s.shutdown()
	}
	ss.wg.Wait()
}

// watched is what a supervisor knows of its instance's spec.
type watched struct {
	// wantRunning is set by every start and cleared by every stop: an
	// exit while it holds, that the node did not cause, is a crash.
	wantRunning bool
	suspended   bool
	memoryMiB   int64
	diskMiB     int64
	ready       readiness
}

// containerRun is one life of the instance's process: from a start (or an
// adoption) to the exit. Its reader and waiter goroutines end with it.
type containerRun struct {
	containerID string
	startedAt   time.Time
	// console is the attached stdin/output; nil when attaching failed.
	console runtime.Console
	cancel  context.CancelFunc
	// readerDone is closed when the output reader has ended.
	readerDone chan struct{}
	// ended is closed once the exit has been handled.
	ended chan struct{}

	// Guarded by the supervisor's mutex.
	// expected is set when the node itself ends the run (stop, kill), so
	// that its exit is not taken for a crash.
	expected bool
	handled  bool
}

// supervisor follows one instance. See the comment at the top of the file.
type supervisor struct {
	d  *Daemon
	id string

	mu    sync.Mutex
	state string
	spec  watched
	run   *containerRun
	// action cancels the operation holding the instance lock, so that a
	// kill never waits behind a stuck start or stop.
	action context.CancelFunc
	// pending cancels a crash restart waiting out its delay.
	pending context.CancelFunc
	// crashes counts crashes; a restart goes ahead only if no other crash
	// or action came after the one it answers.
	crashes  int
	adopting bool
	closed   bool

	cons consoleState
}

func newSupervisor(d *Daemon, id string) *supervisor {
	s := &supervisor{d: d, id: id, state: nodeapi.StatusOffline}
	s.cons.hub = console.NewHub(console.Limits{Lines: d.cfg.ConsoleLines,
		LineRate: d.cfg.ConsoleLineRate, ByteRate: d.cfg.ConsoleByteRate, Connections: d.cfg.ConsoleConnections})
	return s
}

// configure takes what the supervisor needs from the instance's record.
func (s *supervisor) configure(rec *records.Record) {
	if rec == nil {
		return
	}
	ready, err := compileReadiness(rec.Spec.ReadyPatterns)
	if err != nil {
		// Validate refused bad patterns already; a record from an older
		// node is the only way here, and then running at once is best.
		s.d.log.Warn("ignoring unreadable ready patterns", "instance", s.id, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spec = watched{
		wantRunning: wantRunning(rec.Spec) && !rec.StoppedByNode,
		suspended:   rec.Spec.Suspended,
		memoryMiB:   rec.Spec.MemoryMiB,
		diskMiB:     rec.Spec.DiskMiB,
		ready:       ready,
	}
}

// setStateLocked moves the state machine and tells the console clients.
// The caller holds s.mu.
func (s *supervisor) setStateLocked(to string) bool {
	if s.state == to {
		return true
	}
	if !canTransition(s.state, to) {
		s.d.log.Error("refused power transition", "instance", s.id, "from", s.state, "to", to)
		return false
	}
	s.state = to
	s.broadcastLocked(console.StatusFrame(to))
	return true
}

// current returns the state machine's state.
func (s *supervisor) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// beginAction records the cancel of the operation that now holds the
// instance lock; endAction forgets it.
func (s *supervisor) beginAction(cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.action = cancel
}

func (s *supervisor) endAction() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.action = nil
}

// cancelPendingLocked drops a crash restart that has not begun.
func (s *supervisor) cancelPendingLocked() {
	if s.pending != nil {
		s.pending()
		s.pending = nil
	}
}

// interrupt is a kill's first step, taken without the instance lock: the
// current run's exit is marked as the node's doing, and the operation
// holding the lock, and any crash restart, are canceled.
func (s *supervisor) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spec.wantRunning = false
	s.crashes++
	s.cancelPendingLocked()
	if s.run != nil {
		s.run.expected = true
	}
	if s.action != nil {
		s.action()
	}
}

// start starts the instance's (existing) container and begins following
// it. The caller holds the instance lock.
func (s *supervisor) start(ctx context.Context) error {
	rt := s.d.rt
	st, err := rt.Inspect(ctx, s.id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errSupervisorClosed
	}
	s.spec.wantRunning = true
	s.crashes++
	s.cancelPendingLocked()
	if st.Running {
		// Already up (a start after an adoption, or behind the node's
		// back): follow it rather than start it again.
		following := s.run != nil
		s.mu.Unlock()
		if !following {
			s.adopt(ctx, st)
		}
		return nil
	}
	if r := s.run; r != nil {
		// A run whose end nobody has seen yet (its container removed
		// behind the node's back, say): it is over, and this start
		// supersedes whatever it would have led to.
		r.expected = true
		s.mu.Unlock()
		s.exited(r, st)
		s.mu.Lock()
	}
	prev := s.state
	if !s.setStateLocked(nodeapi.StatusStarting) {
		s.mu.Unlock()
		return fmt.Errorf("start %s: instance is %s", s.id, prev)
	}
	s.mu.Unlock()

	// Attached before the start, so that no early line (the ready line
	// of a fast server among them) is missed.
	con, aerr := rt.Attach(s.d.sups.ctx, s.id)
	if aerr != nil {
		s.d.log.Warn("console attach failed; running without console", "instance", s.id, "err", aerr)
		con = nil
	}
	if err := rt.Start(ctx, s.id); err != nil {
		if con != nil {
			_ = con.Close()
		}
		s.mu.Lock()
		if s.state == nodeapi.StatusStarting {
			s.setStateLocked(prev)
		}
		s.mu.Unlock()
		s.emit("[berth] start failed: " + err.Error())
		return err
	}
	st, err = rt.Inspect(ctx, s.id)
	if err != nil {
		// It was started; the waiter learns the rest.
		st = runtime.State{Running: true, StartedAt: time.Now()}
	}
	s.launch(st, con, true)
	return nil
}

// adopt follows a container that runs without a supervisor run: one the
// daemon finds at boot, or one started behind its back. The console
// replay is seeded from the container's log, which also tells whether a
// ready pattern has appeared already.
func (s *supervisor) adopt(ctx context.Context, st runtime.State) {
	rt := s.d.rt
	lines, err := rt.Logs(ctx, s.id, s.d.cfg.ConsoleLines)
	if err != nil {
		lines = nil
	}
	con, err := rt.Attach(s.d.sups.ctx, s.id)
	if err != nil {
		s.d.log.Warn("console attach failed; following without console", "instance", s.id, "err", err)
		con = nil
	}
	s.mu.Lock()
	s.cons.hub.Seed(lines)
	s.mu.Unlock()
	s.launch(st, con, false)
}

// launch makes r the instance's current run and starts its reader and
// waiter. fresh is true for a run this node just started, still to show
// its ready pattern.
func (s *supervisor) launch(st runtime.State, con runtime.Console, fresh bool) {
	ctx, cancel := context.WithCancel(s.d.sups.ctx)
	r := &containerRun{
		containerID: st.ContainerID,
		startedAt:   st.StartedAt,
		console:     con,
		cancel:      cancel,
		readerDone:  make(chan struct{}),
		ended:       make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed || s.run != nil {
		s.mu.Unlock()
		cancel()
		if con != nil {
			_ = con.Close()
		}
		return
	}
	s.run = r
	switch {
	case con == nil || !s.spec.ready.any():
		// Without patterns, or without output to look for them in,
		// running is all there is to know.
		s.setStateLocked(nodeapi.StatusRunning)
	case fresh:
		// starting already; the reader moves it on.
	default:
		readyLogged := s.cons.ringMatchesLocked(s.spec.ready)
		if readyLogged {
			s.setStateLocked(nodeapi.StatusRunning)
		} else if s.state != nodeapi.StatusStarting {
			s.setStateLocked(nodeapi.StatusStarting)
		}
	}
	s.mu.Unlock()

	if con != nil {
		s.d.sups.wg.Go(func() { s.readOutput(r) })
	} else {
		close(r.readerDone)
	}
	s.d.sups.wg.Go(func() { s.waitExit(ctx, r) })
}

// waitExit waits for r's process to end and hands the end to exited.
func (s *supervisor) waitExit(ctx context.Context, r *containerRun) {
	for {
		st, err := s.d.rt.Wait(ctx, s.id)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
		case errors.Is(err, runtime.ErrNotFound):
			// Removed under it: the run is over all the same.
			st = runtime.State{ExitCode: -1}
		default:
			// The engine hiccupped; wait again after a pause.
			s.d.log.Warn("wait for exit", "instance", s.id, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if st.ContainerID != "" && r.containerID != "" && st.ContainerID != r.containerID {
			// Another container under the instance's name: ours is gone.
			st = runtime.State{ExitCode: -1}
		}
		s.exited(r, st)
		return
	}
}

// exited handles the end of run r, once, whoever sees it first: its
// waiter, a stop, or a status read. An end the node caused is a stop; any
// other while the instance should run is a crash, announced on the
// console and followed by a restart unless the crash-loop guard holds.
func (s *supervisor) exited(r *containerRun, st runtime.State) {
	select {
	case <-r.readerDone:
	case <-time.After(drainWait):
	}
	s.mu.Lock()
	if r.handled {
		s.mu.Unlock()
		<-r.ended
		return
	}
	r.handled = true
	if s.run == r {
		s.run = nil
	}
	crash := !r.expected && s.spec.wantRunning && s.state != nodeapi.StatusStopping
	var seq int
	if crash {
		s.crashes++
		seq = s.crashes
		s.emitLocked("[berth] " + exitMessage(st, s.spec.memoryMiB))
		s.setStateLocked(nodeapi.StatusCrashed)
	} else {
		s.setStateLocked(nodeapi.StatusStopped)
	}
	close(r.ended)
	s.mu.Unlock()

	r.cancel()
	if r.console != nil {
		_ = r.console.Close()
	}
	if crash {
		uptime := time.Duration(0)
		if !r.startedAt.IsZero() {
			uptime = time.Since(r.startedAt)
		}
		s.d.sups.goAsync(func(ctx context.Context) { s.recover(ctx, seq, st, uptime) })
	}
}

// exitMessage is the console notice of an exit nobody asked for.
func exitMessage(st runtime.State, memoryMiB int64) string {
	if st.OOMKilled {
		return fmt.Sprintf("server killed: out of memory (limit %d MiB)", memoryMiB)
	}
	return fmt.Sprintf("server exited with code %d", st.ExitCode)
}

// stop ends the instance's process with its stop command, then SIGTERM,
// then SIGKILL (runtime.Stop), and returns once the end is handled. The
// caller holds the instance lock.
func (s *supervisor) stop(ctx context.Context, stopCommand string, timeout time.Duration) error {
	s.mu.Lock()
	s.spec.wantRunning = false
	s.crashes++
	s.cancelPendingLocked()
	r := s.run
	if r != nil {
		r.expected = true
	}
	prev := s.state
	active := prev == nodeapi.StatusStarting || prev == nodeapi.StatusRunning
	if active {
		s.setStateLocked(nodeapi.StatusStopping)
		s.emitLocked("[berth] stopping the server")
	}
	s.mu.Unlock()

	err := s.d.rt.Stop(ctx, s.id, stopCommand, timeout)
	notFound := errors.Is(err, runtime.ErrNotFound)
	if err != nil && !notFound {
		// The process may well be running still: say what is true.
		if st, ierr := s.d.rt.Inspect(ctx, s.id); ierr == nil && st.Running {
			s.mu.Lock()
			if s.state == nodeapi.StatusStopping {
				s.setStateLocked(prev)
			}
			s.mu.Unlock()
			return err
		}
	}
	st, ierr := s.d.rt.Inspect(ctx, s.id)
	if r != nil && (ierr == nil || errors.Is(ierr, runtime.ErrNotFound)) {
		s.exited(r, st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case notFound || errors.Is(ierr, runtime.ErrNotFound):
		s.setStateLocked(nodeapi.StatusOffline)
	case s.run == nil && (s.state == nodeapi.StatusCrashed || s.state == nodeapi.StatusStopping || s.state == nodeapi.StatusOffline):
		s.setStateLocked(nodeapi.StatusStopped)
	}
	return nil
}

// kill ends the process with SIGKILL at once and waits for the end to be
// handled. The caller holds the instance lock; interrupt came first.
func (s *supervisor) kill(ctx context.Context) error {
	rt := s.d.rt
	if err := rt.Kill(ctx, s.id, "SIGKILL"); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	st, err := rt.Wait(wctx, s.id)
	s.mu.Lock()
	r := s.run
	if r != nil {
		r.expected = true
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		s.mu.Lock()
		s.setStateLocked(nodeapi.StatusOffline)
		s.mu.Unlock()
		return nil
	case err != nil:
		return err
	}
	if r != nil {
		s.exited(r, st)
	}
	s.mu.Lock()
	if s.run == nil && s.state != nodeapi.StatusOffline {
		s.setStateLocked(nodeapi.StatusStopped)
	}
	s.mu.Unlock()
	return nil
}

// observed is the status to report given the runtime's view st (nil when
// there is no container), or "" when the supervisor knows no better than
// the container's state. A read is also where a run the waiter has not
// caught up with is settled, and a container running unfollowed is
// adopted.
func (s *supervisor) observed(st *runtime.State) string {
	s.mu.Lock()
	r, state := s.run, s.state
	busy := state == nodeapi.StatusStarting || state == nodeapi.StatusStopping
	adopt := st != nil && st.Running && r == nil && !busy && !s.adopting && !s.closed
	if adopt {
		s.adopting = true
	}
	s.mu.Unlock()

	switch {
	case st != nil && !st.Running && r != nil && (r.containerID == "" || r.containerID == st.ContainerID):
		s.exited(r, *st)
		return s.current()
	case adopt:
		started := *st
		s.d.sups.goAsync(func(ctx context.Context) {
			defer func() {
				s.mu.Lock()
				s.adopting = false
				s.mu.Unlock()
			}()
			actx, cancel := context.WithTimeout(ctx, supervisorCallTimeout)
			defer cancel()
			s.adopt(actx, started)
		})
		return nodeapi.StatusRunning
	case st == nil && state != nodeapi.StatusStarting:
		return nodeapi.StatusOffline
	case state == nodeapi.StatusOffline:
		return ""
	}
	return state
}

// recover answers crash number seq: it records the crash in the instance's
// record (for the status and for the guard, across daemon restarts), then
// restarts the instance after a delay, unless it had crashed within
// CrashWindow before, or something else happened to it meanwhile.
func (s *supervisor) recover(ctx context.Context, seq int, st runtime.State, uptime time.Duration) {
	d := s.d
	restart, delay, err := d.recordCrash(ctx, s.id, st, uptime)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("record crash", "instance", s.id, "err", err)
		}
		return
	}
	if !restart {
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.crashes != seq || s.closed {
		s.mu.Unlock()
		return
	}
	s.cancelPendingLocked()
	s.pending = cancel
	s.emitLocked(fmt.Sprintf("[berth] restarting in %s", delay))
	s.mu.Unlock()

	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-pctx.Done():
		return
	case <-timer.C:
	}

	actx, unlock, err := d.lockInstance(pctx, s.id)
	if err != nil {
		return
	}
	defer unlock()
	s.mu.Lock()
	current := s.crashes == seq && s.state == nodeapi.StatusCrashed
	s.pending = nil
	s.mu.Unlock()
	if !current {
		return
	}
	rec, found, err := d.records.Load(s.id)
	if err != nil || !found || !wantRunning(rec.Spec) || rec.StoppedByNode {
		return
	}
	s.emit("[berth] restarting the server after its crash")
	if err := d.powerOn(actx, s.id, &rec); err != nil && actx.Err() == nil {
		d.log.Warn("restart after crash failed", "instance", s.id, "err", err)
		s.emit("[berth] restart failed: " + err.Error())
	}
}

// shutdown ends the supervisor's runs and console clients; the container
// is left as it is.
func (s *supervisor) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.cancelPendingLocked()
	r := s.run
	s.run = nil
	s.cons.closeClientsLocked()
	s.mu.Unlock()
	if r != nil {
		r.cancel()
		if r.console != nil {
			_ = r.console.Close()
		}
	}
}

// lockInstance waits for the instance's lock, like locks.lock, and lets
// a kill cancel the returned context while it is held.
func (d *Daemon) lockInstance(ctx context.Context, id string) (context.Context, func(), error) {
	unlock, err := d.locks.lock(ctx, id)
	if err != nil {
		return ctx, nil, err
	}
	s := d.sups.get(id)
	actx, cancel := context.WithCancel(ctx)
	s.beginAction(cancel)
	return actx, func() {
		s.endAction()
		cancel()
		unlock()
	}, nil
}

// recordPower stores what a power action says about the panel's desire:
// running after a start or restart, stopped after a stop or kill, as of
// the generation the panel recorded it at. The caller holds the lock.
func (d *Daemon) recordPower(id string, rec *records.Record, req nodeapi.PowerRequest) error {
	desired := nodeapi.DesiredStopped
	if req.Action == nodeapi.ActionStart || req.Action == nodeapi.ActionRestart {
		desired = nodeapi.DesiredRunning
	}
	if rec.Spec.Desired == desired && req.Generation <= rec.PowerGeneration {
		return nil
	}
	rec.Spec.Desired = desired
	rec.PowerGeneration = max(rec.PowerGeneration, req.Generation)
	return d.records.Save(id, *rec)
}

// recordCrash writes a crash into the instance's record and decides what
// follows: a restart after delay, or, when the instance had crashed within
// CrashWindow before, nothing (the crash-loop guard). A crash already
// recorded (seen again after a daemon restart) keeps its decision.
func (d *Daemon) recordCrash(ctx context.Context, id string, st runtime.State, uptime time.Duration) (restart bool, delay time.Duration, err error) {
	unlock, err := d.locks.lock(ctx, id)
	if err != nil {
		return false, 0, err
	}
	defer unlock()
	rec, found, err := d.records.Load(id)
	if err != nil || !found {
		return false, 0, err
	}
	at := st.FinishedAt
	if at.IsZero() {
		at = time.Now()
	}
	wanted := wantRunning(rec.Spec) && !rec.StoppedByNode
	prev := rec.Crash
	if prev != nil && prev.At.Equal(at) {
		return wanted && !prev.Held, d.restartDelay(prev.Streak), nil
	}
	c := &records.Crash{At: at, ExitCode: st.ExitCode, OOMKilled: st.OOMKilled, Streak: 1}
	if prev != nil && uptime < stableRun {
		c.Streak = prev.Streak + 1
	}
	rec.Error = "crashed: " + exitMessage(st, rec.Spec.MemoryMiB)
	if prev != nil && at.Sub(prev.At) < d.cfg.CrashWindow {
		c.Held = true
		rec.Error += fmt.Sprintf("; not restarted automatically, as it crashed %s before", at.Sub(prev.At).Round(time.Second))
	}
	rec.Crash = c
	if err := d.records.Save(id, rec); err != nil {
		return false, 0, err
	}
	if c.Held {
		d.sups.get(id).emit(fmt.Sprintf("[berth] the server crashed twice within %s, so it is not restarted automatically; start it again once it is fixed", d.cfg.CrashWindow))
		d.log.Warn("instance crashed again; not restarting it", "instance", id, "exit_code", st.ExitCode, "oom", st.OOMKilled)
		return false, 0, nil
	}
	d.log.Warn("instance crashed", "instance", id, "exit_code", st.ExitCode, "oom", st.OOMKilled, "restart", wanted)
	return wanted, d.restartDelay(c.Streak), nil
}

// restartDelay is the wait before the restart that answers the streak-th
// crash in a row: RestartDelay, doubled each time, capped.
func (d *Daemon) restartDelay(streak int) time.Duration {
	delay := d.cfg.RestartDelay << min(max(streak-1, 0), 16)
	return min(delay, MaxRestartDelay)
}

// recoverSupervisors gives every stored instance its supervisor as a new
// daemon starts: a running container is adopted (followed, not
// restarted), a stopped one takes its state from the record, and one that
// ended while no daemon watched, though it should run, is handled as a
// crash now.
func (d *Daemon) recoverSupervisors(ctx context.Context, recs map[string]records.Record, states []runtime.State) {
	byID := make(map[string]runtime.State, len(states))
	for _, st := range states {
		byID[st.InstanceID] = st
	}
	for id, rec := range recs {
		s := d.sups.get(id)
		s.configure(&rec)
		st, ok := byID[id]
		switch {
		case !ok:
		case st.Running:
			s.adopt(ctx, st)
		default:
			// The replay shows what the process said before it ended.
			if lines, err := d.rt.Logs(ctx, id, d.cfg.ConsoleLines); err == nil {
				s.mu.Lock()
				s.cons.hub.Seed(lines)
				s.mu.Unlock()
			}
			s.recoverExited(&rec, st)
		}
	}
}

// recoverExited sets the state of an instance whose container is down as
// the daemon starts.
func (s *supervisor) recoverExited(rec *records.Record, st runtime.State) {
	at := st.FinishedAt
	recorded := rec.Crash != nil && rec.Crash.At.Equal(at)
	unexpected := wantRunning(rec.Spec) && !rec.StoppedByNode && st.Status != "created"
	s.mu.Lock()
	defer s.mu.Unlock()
	if !recorded && !unexpected {
		s.setStateLocked(nodeapi.StatusStopped)
		return
	}
	s.crashes++
	seq := s.crashes
	if !recorded {
		s.emitLocked("[berth] " + exitMessage(st, rec.Spec.MemoryMiB) + " while the node daemon was away")
	}
	s.setStateLocked(nodeapi.StatusCrashed)
	s.d.sups.goAsync(func(ctx context.Context) { s.recover(ctx, seq, st, stableRun) })
}

// announce shows line on the instance's console as a notice of the node's
// own ("[berth] ..."), kept for the replay: for what the node does to an
// instance by itself, such as stopping it over its disk limit.
func (d *Daemon) announce(id, line string) {
	if s := d.sups.lookup(id); s != nil {
		s.emit("[berth] " + line)
	}
}
