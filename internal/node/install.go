package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/node/install"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// An instance whose spec has downloads or an install script is installed
// once, before its container is first created (package install does the
// work). The install runs in the background, owned by the daemon: the ensure
// that starts it answers at once with StatusInstalling, and later ensures
// answer the same until it ends. On success the install goroutine carries
// on as an ensure would (create, start); on failure the record keeps the
// reason and the instance is never created. Progress is kept in the
// instance's record, so that a daemon that restarts mid-install (its
// install container killed with it) simply installs again on the next
// ensure. The install's output goes to <dir>/instances/<id>.install.log,
// beside the record and outside the data folder, where the game server
// cannot rewrite it.

// installGate is the ensure path's hook: it holds back an instance that
// still has to be installed, starting the install when none runs, and
// reports whether it did (wait). The caller holds the instance's lock and
// has saved rec.
func (d *Daemon) installGate(ctx context.Context, rec *records.Record) (st nodeapi.InstanceStatus, wait bool, err error) {
	spec := rec.Spec
	if !install.Needed(spec) || rec.Install.Done {
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
	if !failed && !d.installs.Running(spec.ID) {
		rec.Install = records.Install{Running: true}
		if err := d.records.Save(spec.ID, *rec); err != nil {
			return st, true, err
		}
		if !d.installs.Start(spec.ID, func(ctx context.Context) { d.install(ctx, spec) }) {
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
	runCtx, cancel := context.WithTimeout(ctx, d.cfg.Install.RunTimeout())
	failure := d.installer.Run(runCtx, spec, d.runtimeSpec(spec))
	timedOut := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		// Interrupted, not failed: the next ensure installs again.
		failure = ""
	} else if timedOut {
		failure = fmt.Sprintf("install timed out after %s", d.cfg.Install.RunTimeout())
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

// handleInstallLog answers GET /v1/instances/{id}/install-log?tail=N.
func (d *Daemon) handleInstallLog(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	tail, err := nodeapi.ParseTail(r.URL.Query(), nodeapi.DefaultInstallLogTail)
	if err != nil {
		return err
	}
	rec, found, err := d.records.Load(id)
	if err != nil {
		return err
	}
	lines, exists, err := d.installer.Logs.Tail(id, tail)
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

// InstallConfig tunes installs: downloads and install scripts.
type InstallConfig = install.Config

// Close stops the daemon's background work: the SFTP listener is closed,
// running installs are canceled (their containers killed and removed) and
// waited for. Each
// reruns at the instance's next ensure, from this daemon's successor.
// Backups being created or restored end failed, and say so. Serve calls it on its way out.
func (d *Daemon) Close() {
	// First the backups: a restore's last step may start an instance.
	d.backups.Close()
	if d.sftpLn != nil {
		// Serve has closed it already when it ran; a second close is
		// harmless.
		d.sftpLn.Close()
	}
	d.installs.Close()
	// After the installs, whose last step may start an instance.
	d.sups.close()
}
