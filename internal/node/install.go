package node

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// An instance whose spec has downloads or an install script is installed
// once, before its container is first created: the downloads are fetched
// into its data folder, then the script runs in a container of its own.
//
// The install runs in the background, owned by the daemon: the ensure
// that starts it answers at once with StatusInstalling, and later ensures
// answer the same until it ends. On success the install goroutine carries
// on as an ensure would (create, start); on failure the record keeps the
// reason and the instance is never created. Progress is kept in the
// instance's record, so that a daemon that restarts mid-install (its
// install container killed with it) simply installs again on the next
// ensure. The install's output goes to <dir>/instances/<id>.install.log,
// beside the record and outside the data folder, where the game server
// cannot rewrite it.

// InstallConfig tunes installs: downloads and install scripts.
type InstallConfig struct {
	// AllowPrivateDownloads lets downloads reach private, loopback,
	// link-local and other non-public addresses. Off by default: a template
	// could otherwise make the node fetch from its own network, the cloud
	// metadata service included (BERTH_ALLOW_PRIVATE_DOWNLOADS).
	AllowPrivateDownloads bool
	// MaxFileBytes caps one download; 0 means DefaultDownloadMaxFileBytes.
	MaxFileBytes int64
	// MaxTotalBytes caps all the downloads of one install together; 0
	// means DefaultDownloadMaxTotalBytes.
	MaxTotalBytes int64
	// RootCAs, when set, are the only certificate authorities downloads
	// trust; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds one install, downloads and script together; 0 means
	// DefaultInstallTimeout.
	Timeout time.Duration
	// MinMemoryMiB is the least memory an install script gets whatever the
	// instance's own limit, since installers (package managers, unzip)
	// often need more than the server; 0 means DefaultInstallMinMemoryMiB.
	MinMemoryMiB int64
}

// Defaults of the InstallConfig fields left zero.
const (
	DefaultDownloadMaxFileBytes  = 1 << 30
	DefaultDownloadMaxTotalBytes = 4 << 30
	DefaultInstallTimeout        = time.Hour
	DefaultInstallMinMemoryMiB   = 1024
)

func (c InstallConfig) maxFileBytes() int64 {
	return orDefault(c.MaxFileBytes, DefaultDownloadMaxFileBytes)
}
func (c InstallConfig) maxTotalBytes() int64 {
	return orDefault(c.MaxTotalBytes, DefaultDownloadMaxTotalBytes)
}
func (c InstallConfig) timeout() time.Duration {
	return orDefault(c.Timeout, DefaultInstallTimeout)
}
func (c InstallConfig) minMemoryMiB() int64 {
	return orDefault(c.MinMemoryMiB, DefaultInstallMinMemoryMiB)
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Limits of the install log and of the failure reason taken from it.
const (
	// maxInstallLogBytes caps the log file; output past it is dropped.
	maxInstallLogBytes = 8 << 20
	// installErrorLines is how many of the log's last lines a failure
	// carries, and installErrorBytes how long that tail may be.
	installErrorLines = 20
	installErrorBytes = 4 << 10
)

// needsInstall reports whether spec has anything to install.
func needsInstall(spec nodeapi.InstanceSpec) bool {
	return spec.Install != nil || len(spec.Downloads) > 0
}

// installLogFile is the file name of an instance's install log, in the
// records folder. Callers pass only validated IDs.
func installLogFile(id string) string { return id + ".install.log" }

// installGate is the ensure path's hook: it holds back an instance that
// still has to be installed, starting the install when none runs, and
// reports whether it did (wait). The caller holds the instance's lock and
// has saved rec.
func (d *Daemon) installGate(ctx context.Context, rec *records.Record) (st nodeapi.InstanceStatus, wait bool, err error) {
	spec := rec.Spec
	if !needsInstall(spec) || rec.Install.Done {
		return st, false, nil
	}
	if rec.Applied > 0 && rec.Install == (records.Install{}) {
		// Created by a node from before installs, or from a spec that had
		// none: the data folder is in use, and installing now could
		// overwrite it.
		rec.Install.Done = true
		return st, false, d.records.Save(spec.ID, *rec)
	}
	failed := rec.Install.Error != "" && spec.Generation <= rec.Install.FailedGeneration
	if !failed && !d.installs.running(spec.ID) {
		rec.Install = records.Install{Running: true}
		if err := d.records.Save(spec.ID, *rec); err != nil {
			return st, true, err
		}
		if !d.installs.start(spec.ID, func(ctx context.Context) { d.install(ctx, spec) }) {
			return st, true, errShuttingDown
		}
	}
	st, err = d.status(ctx, spec.ID, rec)
	return st, true, err
}

// applyInstall reports an instance's install in its status.
func applyInstall(s *nodeapi.InstanceStatus, in records.Install) {
	if in.Running {
		s.Installing = true
		s.Status = nodeapi.StatusInstalling
	}
	s.InstallError = in.Error
}

// install runs spec's install and records how it ended; on success it
// goes on to create and start the instance as an ensure would. ctx ends
// when the daemon closes or the instance is removed.
func (d *Daemon) install(ctx context.Context, spec nodeapi.InstanceSpec) {
	id := spec.ID
	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, d.cfg.Install.timeout())
	failure := d.runInstall(runCtx, spec)
	timedOut := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		// Interrupted, not failed: the next ensure installs again.
		failure = ""
	} else if timedOut {
		failure = fmt.Sprintf("install timed out after %s", d.cfg.Install.timeout())
	}

	done, err := d.finishInstall(spec, ctx.Err() == nil && failure == "", failure)
	switch {
	case err != nil:
		d.log.Error("record install result", "instance", id, "err", err)
	case failure != "":
		d.log.Warn("install failed", "instance", id, "duration", time.Since(start), "reason", failure)
	case done:
		d.log.Info("installed", "instance", id, "duration", time.Since(start))
		// Carried on at once rather than at the panel's next ensure, with
		// the latest spec the node holds.
		if latest, found, err := d.records.Load(id); err == nil && found {
			if _, err := d.ensure(ctx, latest.Spec); err != nil && ctx.Err() == nil {
				d.log.Warn("ensure after install", "instance", id, "err", err)
			}
		}
	}
}

// finishInstall records the end of spec's install in the instance's record,
// under its lock: done on success, the failure otherwise, and neither when
// the install was interrupted. It reports whether the record was marked
// done; a record removed meanwhile is left gone.
func (d *Daemon) finishInstall(spec nodeapi.InstanceSpec, ok bool, failure string) (bool, error) {
	unlock, err := d.locks.lock(context.Background(), spec.ID)
	if err != nil {
		return false, err
	}
	defer unlock()
	rec, found, err := d.records.Load(spec.ID)
	if err != nil || !found {
		return false, err
	}
	switch {
	case ok:
		rec.Install = records.Install{Done: true}
	case failure != "":
		rec.Install = records.Install{Error: failure, FailedGeneration: spec.Generation}
	default:
		rec.Install = records.Install{}
	}
	return ok, d.records.Save(spec.ID, rec)
}

// runInstall fetches spec's downloads and runs its script, logging both to
// the install log. It returns why the install failed, or "" when it
// succeeded or ctx ended.
func (d *Daemon) runInstall(ctx context.Context, spec nodeapi.InstanceSpec) (failure string) {
	id := spec.ID
	logFile, err := d.openInstallLog(id)
	if err != nil {
		return "open install log: " + err.Error()
	}
	defer logFile.Close()
	out := &cappedWriter{w: logFile, left: maxInstallLogBytes}
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "[berth] "+format+"\n", args...)
	}
	logf("install of %s (generation %d) started at %s", id, spec.Generation, time.Now().UTC().Format(time.RFC3339))
	if err := d.volumes.Create(id); err != nil {
		logf("data folder: %v", err)
		return "data folder: " + err.Error()
	}

	if len(spec.Downloads) > 0 {
		if err := d.fetchDownloads(ctx, id, spec.Downloads, logf); err != nil {
			if ctx.Err() != nil {
				return ""
			}
			logf("install failed: %v", err)
			return err.Error()
		}
	}

	if spec.Install != nil {
		rs := d.runtimeSpec(spec)
		job := runtime.InstallJob{
			InstanceID: id,
			Image:      spec.Install.Image,
			Entrypoint: spec.Install.Entrypoint,
			Script:     strings.ReplaceAll(spec.Install.Script, "\r\n", "\n"),
			Env:        rs.Env,
			DataDir:    rs.DataDir,
			MemoryMiB:  max(spec.MemoryMiB, d.cfg.Install.minMemoryMiB()),
			CPU:        max(spec.CPU, 1),
		}
		logf("running the install script in %s with %s", job.Image, strings.Join(runtime.InstallCommand(job.Entrypoint), " "))
		code, err := d.rt.RunInstall(ctx, job, out)
		if err != nil {
			if ctx.Err() != nil {
				return ""
			}
			logf("install failed: %v", err)
			return "install script: " + err.Error()
		}
		if code != 0 {
			tail := d.installLogTail(id, installErrorLines)
			logf("install script exited with code %d", code)
			return fmt.Sprintf("install script exited with code %d; last output:\n%s", code, tail)
		}
		logf("install script exited with code 0")
	}
	// The script ran as root, and the downloads were made by the node:
	// everything goes to the user the instance runs as.
	if err := d.volumes.ChownAll(ctx, id); err != nil {
		if ctx.Err() != nil {
			return ""
		}
		logf("install failed: give the data folder to the container user %s: %v", d.volumes.Owner(), err)
		return fmt.Sprintf("give the data folder to the container user %s: %v", d.volumes.Owner(), err)
	}
	logf("install finished")
	return ""
}

// openInstallLog starts the instance's install log afresh.
func (d *Daemon) openInstallLog(id string) (*os.File, error) {
	root, err := d.records.Open()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.OpenFile(installLogFile(id), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

// readInstallLog returns the last tail lines of the instance's install
// log, and whether there is one.
func (d *Daemon) readInstallLog(id string, tail int) ([]string, bool, error) {
	root, err := d.records.Open()
	if err != nil {
		return nil, false, err
	}
	defer root.Close()
	b, err := root.ReadFile(installLogFile(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return lastLines(b, tail), true, nil
}

// installLogTail is the end of the install log as a failure reason:
// installErrorLines lines at most, and no more than installErrorBytes.
func (d *Daemon) installLogTail(id string, n int) string {
	lines, _, err := d.readInstallLog(id, n)
	if err != nil {
		return "(install log unreadable: " + err.Error() + ")"
	}
	s := strings.Join(lines, "\n")
	if len(s) > installErrorBytes {
		s = "..." + s[len(s)-installErrorBytes:]
	}
	return s
}

// removeInstallLog deletes the instance's install log, if any.
func (d *Daemon) removeInstallLog(id string) error {
	root, err := d.records.Open()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(installLogFile(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// lastLines splits b into lines and returns the last n. A carriage return
// inside a line (a progress bar redrawing itself) keeps only what follows
// it, as a terminal would show.
func lastLines(b []byte, n int) []string {
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 || n <= 0 {
		return []string{}
	}
	raw := bytes.Split(b, []byte("\n"))
	raw = raw[max(len(raw)-n, 0):]
	lines := make([]string, len(raw))
	for i, l := range raw {
		l = bytes.TrimRight(l, "\r")
		if j := bytes.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = string(l)
	}
	return lines
}

// cappedWriter writes up to left bytes to w and then drops the rest, once
// saying so, without failing the writer: a chatty installer must not fill
// the node's disk, nor fail because its log is full.
type cappedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	left int64
	cut  bool
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		if !c.cut {
			c.cut = true
			_, _ = io.WriteString(c.w, "\n[berth] install log is full; further output is dropped\n")
		}
		return len(p), nil
	}
	keep := p[:min(int64(len(p)), c.left)]
	n, err := c.w.Write(keep)
	c.left -= int64(n)
	if err != nil {
		return n, err
	}
	return len(p), nil
}

// handleInstallLog answers GET /v1/instances/{id}/install-log?tail=N.
func (d *Daemon) handleInstallLog(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	tail := nodeapi.DefaultInstallLogTail
	if q := r.URL.Query(); q.Has("tail") {
		n, err := strconv.Atoi(q.Get("tail"))
		if err != nil || n < 1 || n > nodeapi.MaxLogTail {
			return &nodeapi.FieldError{Field: "tail", Rule: fmt.Sprintf("must be an integer from 1 to %d", nodeapi.MaxLogTail)}
		}
		tail = n
	}
	rec, found, err := d.records.Load(id)
	if err != nil {
		return err
	}
	lines, exists, err := d.readInstallLog(id, tail)
	if err != nil {
		return err
	}
	if !found && !exists {
		return errInstanceNotFound
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, nodeapi.InstallLog{
		Lines:      lines,
		Installing: rec.Install.Running,
		Installed:  rec.Install.Done,
		Error:      rec.Install.Error,
	})
	return nil
}

// errShuttingDown answers an ensure that would start an install while the
// daemon is closing.
var errShuttingDown = &apiError{http.StatusServiceUnavailable, "node is shutting down"}

// installs runs at most one install per instance, each in a goroutine of
// its own that Close cancels and waits for. The zero value is ready.
type installs struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	runs   map[string]*installRun
	wg     sync.WaitGroup
}

type installRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs fn for id in the background unless an install of id runs
// already or the daemon is closing; it reports whether it started fn.
func (s *installs) start(id string, fn func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.runs[id] != nil {
		return false
	}
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.runs = map[string]*installRun{}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	run := &installRun{cancel: cancel, done: make(chan struct{})}
	s.runs[id] = run
	s.wg.Go(func() {
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.runs, id)
			s.mu.Unlock()
			close(run.done)
		}()
		fn(ctx)
	})
	return true
}

// running reports whether an install of id runs.
func (s *installs) running(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[id] != nil
}

// stop cancels the install of id, if one runs, and waits for it to end.
func (s *installs) stop(id string) {
	s.mu.Lock()
	run := s.runs[id]
	s.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

// close cancels every install, refuses new ones, and waits for all to end.
func (s *installs) close() {
	s.mu.Lock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Close stops the daemon's background work: running installs are
// canceled (their containers killed and removed) and waited for. Each
// reruns at the instance's next ensure, from this daemon's successor.
// Serve calls it on its way out.
func (d *Daemon) Close() {
	d.installs.close()
	// After the installs, whose last step may start an instance.
	d.sups.close()
}
