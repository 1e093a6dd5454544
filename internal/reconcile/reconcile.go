// Package reconcile carries the panel's desired state to the nodes. It
// reads instances from the database and drives each to what the database
// says on its node: ensure, start, stop, remove. Everything it knows lives
// in the database, so a panel killed mid-deploy picks up where it stopped.
//
// Each node has its own worker goroutine with its own timeouts, so a node
// that is down or slow delays only its own instances.
package reconcile

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// Config tunes a Reconciler. Zero values take the defaults.
type Config struct {
	Store *store.Store
	Log   *slog.Logger
	// Interval is how often each node is visited without a kick (2s).
	Interval time.Duration
	// HealthTimeout bounds a node's health call (5s); the node gives Docker
	// less than that, so a slow engine shows as docker:false, not Offline.
	HealthTimeout time.Duration
	// EnsureTimeout bounds one ensure call, image pull included (10m).
	EnsureTimeout time.Duration
	// NodeTLS verifies nodes served over HTTPS; nil trusts the system's
	// certificate authorities.
	NodeTLS *tls.Config
	// Parallel is how many instances of one node are ensured at once (8).
	Parallel int
	// PanelID names this panel among those sharing the database, and
	// PanelAddress says where it serves; a random ID when empty. A
	// panel drives only the nodes whose lease it holds (store.ClaimNodes).
	PanelID      string
	PanelAddress string
	// LeaseTTL is how long a node's lease lasts unless renewed (10s). The
	// reconciler renews a third of the way through, so a panel that dies
	// hands its nodes to another within LeaseTTL and a renewal or two.
	LeaseTTL time.Duration
	// Now is the clock the leases are judged by; nil means time.Now.
	Now func() time.Time
	// BackupOfflineTimeout fails the backups and restores a node is
	// working on once it has not answered for this long (10m).
	BackupOfflineTimeout time.Duration
	// SeenEvery is how stale a node's last-seen time may grow before a
	// pass writes it again (10s). A pass that finds the node as the
	// database already says writes nothing, so a large fleet's passes do
	// not queue on the database's one writer.
	SeenEvery time.Duration

	// passed, set by tests, hears the end of each pass of a node.
	passed func(nodeID string)
}

// Reconciler owns one worker per configured node.
type Reconciler struct {
	cfg Config
	st  *store.Store
	log *slog.Logger

	mu      sync.Mutex
	workers map[string]*worker
	wake    chan struct{}
	// resync asks the supervisor to look for nodes without a worker,
	// waking none of the others.
	resync chan struct{}

	// held is the nodes whose leases this panel holds, as of claimed;
	// they are trusted until claimed+LeaseTTL, when they run out unless
	// a claim succeeded since.
	held    map[string]bool
	claimed time.Time
	// The figures Stats reports.
	queued          atomic.Int64
	passes          atomic.Uint64
	installFailures atomic.Uint64
	errors          [len(ErrorStages)]atomic.Uint64
}

// ErrorStages name the steps of a pass whose failures Stats counts: a
// node's health call, an ensure, a removal, the listing of a node's
// instances, and the reconciler's own database reads and writes.
var ErrorStages = [...]string{"health", "ensure", "remove", "observe", "store"}

// Indexes into ErrorStages.
const (
	stageHealth = iota
	stageEnsure
	stageRemove
	stageObserve
	stageStore
)

// Stats are the reconciler's running figures, for the metrics.
type Stats struct {
	// Workers is how many nodes have a worker.
	Workers int
	// Queued is how many instances were found due, for an ensure or a
	// removal, and are waiting for or in their call to the node.
	Queued int64
	// Passes counts the visits to nodes.
	Passes uint64
	// InstallFailures counts the deploys failed for good: install script
	// failed, image refused, or install timed out.
	InstallFailures uint64
	// Errors counts failures by stage, in the order of ErrorStages.
	Errors [len(ErrorStages)]uint64
}

// Stats returns the reconciler's figures now.
func (r *Reconciler) Stats() Stats {
	r.mu.Lock()
	st := Stats{Workers: len(r.workers)}
	r.mu.Unlock()
	st.Queued = r.queued.Load()
	st.Passes = r.passes.Load()
	st.InstallFailures = r.installFailures.Load()
	for i := range r.errors {
		st.Errors[i] = r.errors[i].Load()
	}
	return st
}

// New returns a Reconciler; Run starts it.
func New(cfg Config) *Reconciler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 5 * time.Second
	}
	if cfg.EnsureTimeout <= 0 {
		cfg.EnsureTimeout = 10 * time.Minute
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.PanelID == "" {
		cfg.PanelID = "panel-" + store.NewID(8)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BackupOfflineTimeout <= 0 {
		cfg.BackupOfflineTimeout = 10 * time.Minute
	}
	if cfg.SeenEvery <= 0 {
		cfg.SeenEvery = 10 * time.Second
	}
	return &Reconciler{cfg: cfg, st: cfg.Store, log: cfg.Log, workers: map[string]*worker{}, wake: make(chan struct{}, 1),
		resync: make(chan struct{}, 1)}
}

// Kick asks every worker to look again now, after a change that concerns
// the whole fleet. A change to one node's instances calls KickNode.
func (r *Reconciler) Kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// KickNode asks the worker of node nodeID alone to look again now, after a
// change of desire on that node: a deploy, a power change, a delete. The
// other nodes' workers sleep on, so a deploy costs one pass of its node
// however large the fleet. A node with no worker yet (just created, or
// just configured, or whose lease this panel may take) wakes the
// supervisor, which starts its worker if this panel drives it; the other
// workers sleep on then too. A node another panel drives is that panel's
// to look at: it hears of the change through the database.
func (r *Reconciler) KickNode(nodeID string) {
	r.mu.Lock()
	w := r.workers[nodeID]
	r.mu.Unlock()
	if w == nil {
		select {
		case r.resync <- struct{}{}:
		default:
		}
		return
	}
	w.poke()
}

// Run supervises the workers until ctx ends, then waits for each to stop
// at a safe point: between two calls, never inside a database write.
// On the way out it releases its leases, so that another panel takes its
// nodes at once instead of when the leases run out.
func (r *Reconciler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		if err := r.st.ReleaseNodes(context.WithoutCancel(ctx), r.cfg.PanelID); err != nil {
			r.log.Error("reconcile: release node leases", "err", err)
		}
	}()
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	for {
		r.syncWorkers(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.resync:
		case <-r.wake:
			r.mu.Lock()
			for _, w := range r.workers {
				w.poke()
			}
			r.mu.Unlock()
		}
	}
}

// claim renews this panel's node leases and takes those that are free,
// when a third of LeaseTTL has passed since the last claim, or at once
// when nodes holds one that nobody drives (a new node, or one whose panel
// let go). When claims keep failing (the database is away), the leases
// are given up as they run out: another panel may be driving those nodes
// by then.
func (r *Reconciler) claim(ctx context.Context, nodes []store.Node) {
	now := r.cfg.Now()
	free := false
	for _, n := range nodes {
		free = free || !r.held[n.ID] && !n.Lease.Live(now)
	}
	if !free && now.Sub(r.claimed) < r.cfg.LeaseTTL/3 {
		return
	}
	ids, err := r.st.ClaimNodes(ctx, r.cfg.PanelID, r.cfg.PanelAddress, now, r.cfg.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			r.errors[stageStore].Add(1)
			r.log.Error("reconcile: claim node leases", "err", err)
		}
		if now.Sub(r.claimed) >= r.cfg.LeaseTTL {
			r.held = nil
		}
		return
	}
	held := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !r.held[id] {
			r.log.Info("reconcile: driving node", "node_id", id, "panel_id", r.cfg.PanelID)
		}
		held[id] = true
	}
	r.held, r.claimed = held, now
}

// syncWorkers starts a worker for each node this panel holds the lease of,
// and stops those of deleted nodes and of leases lost.
func (r *Reconciler) syncWorkers(ctx context.Context, wg *sync.WaitGroup) {
	nodes, err := r.st.ListNodes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("reconcile: list nodes", "err", err)
		}
		return
	}
	r.claim(ctx, nodes)
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, n := range nodes {
		if !r.held[n.ID] {
			continue
		}
		seen[n.ID] = true
		if r.workers[n.ID] != nil {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{r: r, nodeID: n.ID, wake: make(chan struct{}, 1), cancel: cancel}
		r.workers[n.ID] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(wctx)
		}()
	}
	for id, w := range r.workers {
		if !seen[id] {
			w.cancel()
			delete(r.workers, id)
		}
	}
}

// worker reconciles one node.
type worker struct {
	r      *Reconciler
	nodeID string
	wake   chan struct{}
	cancel context.CancelFunc

	client    *nodeapi.Client
	clientFor string
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	tick := time.NewTicker(w.r.cfg.Interval)
	defer tick.Stop()
	for {
		w.pass(ctx)
		if w.r.cfg.passed != nil {
			w.r.cfg.passed(w.nodeID)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-w.wake:
		}
	}
}

// pass is one visit to the node: health, removals, ensures, observation,
// backups.
func (w *worker) pass(ctx context.Context) {
	log := w.r.log.With("node_id", w.nodeID)
	w.r.passes.Add(1)
	n, err := w.r.st.NodeByID(ctx, w.nodeID)
	if err != nil {
		if ctx.Err() == nil {
			w.r.errors[stageStore].Add(1)
			log.Error("reconcile: load node", "err", err)
		}
		return
	}
	if n.Token == "" {
		w.failOverdue(ctx, "node "+n.Name+" has not been configured yet (run its configure command)")
		return
	}
	c := w.clientOf(n)
	hctx, cancel := context.WithTimeout(ctx, w.r.cfg.HealthTimeout)
	h, err := c.Health(hctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.r.errors[stageHealth].Add(1)
		if n.Status != store.NodeOffline {
			log.Warn("node offline", "err", err)
			w.record(ctx, "SetNodeHealth", w.r.st.SetNodeHealth(ctx, n.ID, store.NodeOffline, "", 0, time.Time{}))
		}
		w.failOverdue(ctx, fmt.Sprintf("node %s is unreachable: %v", n.Name, err))
		w.failOfflineBackups(ctx, n)
		return
	}
	unchanged := n.Status == store.NodeOnline && n.Version == h.Version && (h.CPUs == 0 || h.CPUs == n.CPUs)
	if !unchanged || time.Since(n.LastSeen) >= w.r.cfg.SeenEvery {
		w.record(ctx, "SetNodeHealth", w.r.st.SetNodeHealth(ctx, n.ID, store.NodeOnline, h.Version, h.CPUs, time.Now()))
	}
	w.record(ctx, "SetNodeSFTPPort", w.r.st.SetNodeSFTPPort(ctx, n.ID, h.SFTPPort))
	w.removeDeleted(ctx, c, log)
	w.ensureDue(ctx, c, log)
	w.observe(ctx, c, log)
	w.followBackups(ctx, c, log)
}

// clientOf returns the node's client, rebuilt when its address or token
// changed.
func (w *worker) clientOf(n store.Node) *nodeapi.Client {
	key := n.Scheme + "://" + n.Address + ":" + strconv.Itoa(n.Port) + "\x00" + n.Token
	if w.client == nil || w.clientFor != key {
		w.client, w.clientFor = dispatch.ClientFor(n, w.r.cfg.NodeTLS), key
	}
	return w.client
}

// failOverdue fails the node's installs whose deadline has passed.
func (w *worker) failOverdue(ctx context.Context, reason string) {
	// A list that failed in part still holds the rows that did not.
	list, err := w.r.st.OverdueInstalls(ctx, w.nodeID, time.Now())
	w.record(ctx, "list overdue installs", err)
	for _, in := range list {
		w.r.log.Warn("install timed out", "instance_id", in.ID, "reason", reason)
		w.r.installFailures.Add(1)
		w.record(ctx, "MarkFailed", w.r.st.MarkFailed(ctx, in.ID, "install timed out: "+reason))
	}
}

func (w *worker) removeDeleted(ctx context.Context, c *nodeapi.Client, log *slog.Logger) {
	list, err := w.r.st.DueNodeRemovals(ctx, w.nodeID, time.Now())
	w.record(ctx, "list due removals", err)
	// Those not reached, when ctx ends, leave the queue too.
	left := int64(len(list))
	w.r.queued.Add(left)
	defer func() { w.r.queued.Add(-left) }()
	for _, rm := range list {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := c.RemoveInstance(cctx, rm.InstanceID)
		cancel()
		left--
		w.r.queued.Add(-1)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.r.errors[stageRemove].Add(1)
			log.Warn("remove failed", "instance_id", rm.InstanceID, "err", err)
			w.record(ctx, "RecordRemovalFailure", w.r.st.RecordRemovalFailure(ctx, rm.InstanceID, err.Error(), time.Now().Add(backoff(rm.Attempts))))
			continue
		}
		w.record(ctx, "CompleteRemoval", w.r.st.CompleteRemoval(ctx, rm.InstanceID))
		log.Info("instance removed", "instance_id", rm.InstanceID)
	}
}

// ensureDue applies every due instance, a few at a time.
func (w *worker) ensureDue(ctx context.Context, c *nodeapi.Client, log *slog.Logger) {
	list, err := w.r.st.DueInstances(ctx, w.nodeID, time.Now())
	w.record(ctx, "list due instances", err)
	w.r.queued.Add(int64(len(list)))
	sem := make(chan struct{}, w.r.cfg.Parallel)
	var wg sync.WaitGroup
	for _, in := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; w.r.queued.Add(-1); wg.Done() }()
			w.ensure(ctx, c, in, log)
		}()
	}
	wg.Wait()
}

func (w *worker) ensure(ctx context.Context, c *nodeapi.Client, in store.Instance, log *slog.Logger) {
	spec, err := dispatch.Spec(ctx, w.r.st, in)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, w.r.cfg.EnsureTimeout)
		var st nodeapi.InstanceStatus
		st, err = c.EnsureInstance(cctx, spec)
		cancel()
		if err == nil && w.installPending(ctx, in, st, log) {
			return
		}
		if err == nil {
			if err := w.r.st.MarkApplied(ctx, in.ID, spec.Generation, st.Status, st.ContainerID); err != nil {
				w.r.errors[stageStore].Add(1)
				log.Error("reconcile: mark applied", "instance_id", in.ID, "err", err)
			} else if in.InternalState == store.StateInstalling {
				log.Info("instance ready", "instance_id", in.ID)
			}
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	w.r.errors[stageEnsure].Add(1)
	switch {
	// Only an install fails for good: MarkFailed leaves a READY instance
	// be, so one whose image is gone from its node, say, is retried with
	// backoff (the default case) rather than at every pass, pull and all.
	case (nodeapi.IsImageError(err) || dispatch.IsPermanent(err)) && in.InternalState == store.StateInstalling:
		w.r.installFailures.Add(1)
		w.record(ctx, "MarkFailed", w.r.st.MarkFailed(ctx, in.ID, err.Error()))
		log.Warn("install failed", "instance_id", in.ID, "err", err)
	case in.InternalState == store.StateInstalling && time.Now().After(in.InstallDeadline):
		w.r.installFailures.Add(1)
		w.record(ctx, "MarkFailed", w.r.st.MarkFailed(ctx, in.ID, "install timed out: "+err.Error()))
		log.Warn("install timed out", "instance_id", in.ID, "err", err)
	default:
		log.Warn("ensure failed; will retry", "instance_id", in.ID, "attempt", in.Attempts+1, "err", err)
		w.record(ctx, "RecordAttemptFailure", w.r.st.RecordAttemptFailure(ctx, in.ID, err.Error(), time.Now().Add(backoff(in.Attempts))))
	}
}

// installPending handles an ensure the node answered while the instance's
// install runs or after it failed, and reports whether it did. A running
// install is no failure and counts no attempt: the instance stays due, so
// the next pass asks again, until the install deadline. A failed install
// fails the instance at once, with the node's reason (the script's exit
// code and the tail of its output).
func (w *worker) installPending(ctx context.Context, in store.Instance, st nodeapi.InstanceStatus, log *slog.Logger) bool {
	switch {
	case st.InstallError != "":
		w.r.installFailures.Add(1)
		w.record(ctx, "MarkFailed", w.r.st.MarkFailed(ctx, in.ID, "install failed: "+st.InstallError))
		log.Warn("install failed", "instance_id", in.ID, "err", st.InstallError)
	case !st.Installing:
		return false
	case in.InternalState == store.StateInstalling && time.Now().After(in.InstallDeadline):
		w.r.installFailures.Add(1)
		w.record(ctx, "MarkFailed", w.r.st.MarkFailed(ctx, in.ID, "install timed out: the install script or downloads were still running"))
		log.Warn("install timed out", "instance_id", in.ID)
	default:
		if err := w.r.st.SetObserved(ctx, w.nodeID, in.ID, dispatch.Observation(st)); err != nil {
			w.r.errors[stageStore].Add(1)
			log.Error("reconcile: record observed state", "instance_id", in.ID, "err", err)
		}
	}
	return true
}

// observe copies the node's view of each instance's power status into the
// database.
func (w *worker) observe(ctx context.Context, c *nodeapi.Client, log *slog.Logger) {
	cctx, cancel := context.WithTimeout(ctx, w.r.cfg.HealthTimeout)
	list, err := c.ListInstances(cctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			w.r.errors[stageObserve].Add(1)
			log.Warn("reconcile: list node instances", "err", err)
		}
		return
	}
	// What the database already holds is read in one query, so that a
	// pass of a node of many settled instances writes nothing at all.
	known, err := w.r.st.ObservedOnNode(ctx, w.nodeID)
	w.record(ctx, "read observed states", err)
	for _, st := range list {
		o := dispatch.Observation(st)
		if prev, ok := known[st.ID]; ok && prev == o {
			continue
		}
		if err := w.r.st.SetObserved(ctx, w.nodeID, st.ID, o); err != nil {
			w.r.errors[stageStore].Add(1)
			log.Error("reconcile: record observed state", "instance_id", st.ID, "err", err)
		}
	}
}

// record logs a database call that failed: a bookkeeping write, or a list
// (which may still have returned the rows that did not fail). The pass
// goes on: the same work comes due again on the next one, and the call
// with it.
func (w *worker) record(ctx context.Context, what string, err error) {
	if err != nil && ctx.Err() == nil {
		w.r.errors[stageStore].Add(1)
		w.r.log.Error("reconcile: "+what, "node_id", w.nodeID, "err", err)
	}
}

// backoff is the wait before attempt n+1: exponential from 1s, capped at a
// minute, with jitter so that many retries do not fall on one instant.
func backoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 6)
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}
