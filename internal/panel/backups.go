package panel

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// Backups (DESIGN §11), under /api/client/instances/{id}/backups for users
// (the backups permission, download included) and
// /api/instances/backups/{id} for admins. The panel records a backup
// creating before it asks the node, and the reconciler follows it to
// completed or failed (internal/reconcile/backups.go); the archive itself
// stays on the node, and a download streams through the panel.
//
// Every backup an instance holds counts against its backupLimit but failed
// ones, which hold no archive. Deleting an instance deletes all of its
// backups, locked ones too: a lock guards against a slip of a user, and
// deleting the whole instance is no slip. Every change, and every
// download, is recorded in the activity log.

// MaxBackupLimit bounds an instance's backupLimit, and the
// -default-backup-limit flag.
const MaxBackupLimit = 1000

// backupView is a backup as the API shows it.
type backupView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state" doc:"creating, completed or failed"`
	// Error says why a backup failed.
	Error       string     `json:"error"`
	Bytes       int64      `json:"bytes" doc:"the archive's size"`
	SHA256      string     `json:"sha256" doc:"hex, once completed"`
	Locked      bool       `json:"locked"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt" doc:"when the backup completed or failed; null while it is being created"`
	// Written is how far the node got archiving a backup being created:
	// GET of one backup asks its node, the list does not.
	Written int64 `json:"written,omitempty" doc:"bytes archived so far, while creating, when the node answers"`
	// Restore and RestoreError tell of the backup's last restore.
	Restore      string `json:"restore,omitempty" doc:"the last restore: running, completed or failed; absent when none ran"`
	RestoreError string `json:"restoreError,omitempty"`
}

func viewBackup(b store.Backup) backupView {
	v := backupView{ID: b.ID, Name: b.Name, State: b.State, Error: b.Error, Bytes: b.Bytes, SHA256: b.SHA256,
		Locked: b.Locked, CreatedAt: b.CreatedAt, Restore: b.Restore, RestoreError: b.RestoreError}
	if !b.CompletedAt.IsZero() {
		v.CompletedAt = &b.CompletedAt
	}
	return v
}

// listBackups answers an instance's backups, newest first.
func (s *Server) listBackups(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := f(r)
		if err != nil {
			return err
		}
		lq, err := readListQuery(r)
		if err != nil {
			return err
		}
		return writeList(s, w, r, lq, func(p store.Page) ([]store.Backup, error) {
			return s.store.BackupPage(r.Context(), t.in.ID, p)
		}, func(b store.Backup) (any, error) { return viewBackup(b), nil })
	}
}

// createBackup starts a backup: POST {"name"?} answers 202 with it,
// creating.
func (s *Server) createBackup(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		name, err := b.str("name", false, 100)
		if err != nil {
			return err
		}
		t, err := f(r)
		if err != nil {
			return err
		}
		bk, err := s.StartBackup(r.Context(), t.in, name)
		if err != nil {
			return err
		}
		s.recordBackup(r, "instance.backup.create", bk, "")
		writeJSON(w, http.StatusAccepted, viewBackup(bk))
		return nil
	}
}

// StartBackup records a backup of in named name (a default name when
// empty) and asks in's node to make it; the reconciler follows it from
// there. It is what a backup request and a schedule's backup task do;
// the caller records the activity. Past the instance's backupLimit it is
// a Conflict naming backupLimit, and nothing is recorded; so too when the
// node refuses the backup outright. A node that cannot be reached once
// the backup is recorded leaves it creating, for the follower to resolve.
func (s *Server) StartBackup(ctx context.Context, in store.Instance, name string) (store.Backup, error) {
	if in.InternalState != store.StateReady {
		return store.Backup{}, fault.New(fault.Conflict, "instance is %s, not READY", in.InternalState)
	}
	if in.Node.Status == store.NodeOffline {
		return store.Backup{}, fault.New(fault.Unavailable, "node %s is offline; try again once it is back", in.Node.Name)
	}
	c, err := s.nodeClient(ctx, in)
	if err != nil {
		return store.Backup{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if name == "" {
		name = "Backup " + now.Format("2006-01-02 15:04") + " UTC"
	}
	b := store.Backup{ID: store.NewID(8), InstanceID: in.ID, NodeID: in.NodeID, Name: name,
		State: nodeapi.BackupCreating, CreatedAt: now}
	req, err := dispatch.BackupRequest(ctx, s.store, in, b.ID)
	if err != nil {
		return b, err
	}
	if err := s.store.CreateBackup(ctx, b); err != nil {
		return b, err
	}
	// The backup is recorded: a client that goes away must not cut the
	// node's call short and leave the outcome unknown for no reason.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backupCreateTimeout)
	defer cancel()
	status, err := c.CreateBackup(cctx, in.ID, req)
	var ne *nodeapi.Error
	switch {
	case errors.As(err, &ne) && ne.Status >= 400 && ne.Status < 500:
		// The node refused it and started nothing: the request changes
		// nothing here either.
		if derr := s.store.DeleteBackup(context.WithoutCancel(ctx), in.ID, b.ID); derr != nil {
			return b, derr
		}
		return b, nodeFault(in, err)
	case err != nil:
		// No answer, or a failure of the node's own: whether it started
		// is unknown. It stays creating, and the follower finds out: the
		// node's create is idempotent by ID, and a node with no record of
		// it fails it.
		s.log.Warn("backup create: the node did not answer; the follower will find out whether it started",
			"instance_id", in.ID, "backup_id", b.ID, "node", in.Node.Name, "err", err)
		return b, nil
	}
	return dispatch.ApplyBackupStatus(context.WithoutCancel(ctx), s.store, b, status)
}

// backupCreateTimeout bounds the node call that starts a backup: the node
// only records it and answers.
const backupCreateTimeout = 30 * time.Second

// pathBackup resolves the instance through f and its backup of the path.
func (s *Server) pathBackup(r *http.Request, f instanceFront) (target, store.Backup, error) {
	id, err := pathValue(r, "backupId")
	if err != nil {
		return target{}, store.Backup{}, err
	}
	t, err := f(r)
	if err != nil {
		return t, store.Backup{}, err
	}
	b, err := s.store.BackupByID(r.Context(), t.in.ID, id)
	return t, b, err
}

// progressTimeout bounds the node call that tells how far a backup got.
const progressTimeout = 3 * time.Second

// getBackup answers one backup, with the node's progress while it is
// being created.
func (s *Server) getBackup(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, b, err := s.pathBackup(r, f)
		if err != nil {
			return err
		}
		v := viewBackup(b)
		if b.State == nodeapi.BackupCreating {
			v.Written = s.backupProgress(r.Context(), t.in, b)
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

// backupProgress asks b's node how many bytes it has archived. Progress is
// a nicety: a node that does not answer in time leaves it 0, and the
// backup's state is the follower's to record.
func (s *Server) backupProgress(ctx context.Context, in store.Instance, b store.Backup) int64 {
	c, err := s.nodeClient(ctx, in)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, progressTimeout)
	defer cancel()
	st, err := c.GetBackup(ctx, in.ID, b.ID)
	if err != nil {
		return 0
	}
	return st.Written
}

// lockBackup locks (lock true) or unlocks a backup; a locked one cannot be
// deleted.
func (s *Server) lockBackup(f instanceFront, lock bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, b, err := s.pathBackup(r, f)
		if err != nil {
			return err
		}
		if b, err = s.store.SetBackupLocked(r.Context(), t.in.ID, b.ID, lock); err != nil {
			return err
		}
		action := "instance.backup.unlock"
		if lock {
			action = "instance.backup.lock"
		}
		s.recordBackup(r, action, b, "")
		writeJSON(w, http.StatusOK, viewBackup(b))
		return nil
	}
}

// deleteBackup removes a backup's record, then its archive from its node.
// A locked backup, one still being created and one being restored is a
// 409.
func (s *Server) deleteBackup(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, b, err := s.pathBackup(r, f)
		if err != nil {
			return err
		}
		switch {
		case b.Locked:
			return store.ErrBackupLocked
		case b.State == nodeapi.BackupCreating:
			return fault.New(fault.Conflict, "backup is still being created; delete it once it has completed or failed")
		case b.Restore == nodeapi.RestoreRunning:
			return fault.New(fault.Conflict, "backup is being restored; delete it once the restore has ended")
		}
		// The record goes first, in one statement that keeps a backup
		// locked meanwhile: a failure after it leaves an archive with no
		// record, never a locked backup with no archive. The node's
		// removal is idempotent; an archive it fails to remove is logged.
		if err := s.store.DeleteBackup(r.Context(), t.in.ID, b.ID); err != nil {
			return err
		}
		ctx := context.WithoutCancel(r.Context())
		if c, err := s.nodeClient(ctx, t.in); err != nil {
			s.log.Warn("delete a backup's archive", "instance_id", t.in.ID, "backup_id", b.ID, "err", err)
		} else if err := c.DeleteBackup(ctx, t.in.ID, b.ID); err != nil && !nodeapi.IsNotFound(err) {
			s.log.Warn("delete a backup's archive", "instance_id", t.in.ID, "backup_id", b.ID, "err", err)
		}
		s.recordBackup(r, "instance.backup.delete", b, "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// restoreBackup replaces the instance's files with a completed backup's:
// POST {"truncate"?} answers 202 with the backup, its restore running.
// The node stops the instance, restores, and starts it again if it was
// running; the reconciler follows the restore to its end.
func (s *Server) restoreBackup(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := decodeBody(r)
		if err != nil {
			return err
		}
		truncate, err := body.boolean("truncate")
		if err != nil {
			return err
		}
		t, b, err := s.pathBackup(r, f)
		if err != nil {
			return err
		}
		switch {
		case t.in.Suspended:
			return fault.New(fault.Conflict, "instance is suspended; it can be read and nothing more")
		case t.in.InternalState != store.StateReady:
			return fault.New(fault.Conflict, "instance is %s, not READY", t.in.InternalState)
		case b.State != nodeapi.BackupCompleted:
			return fault.New(fault.Conflict, "backup is %s; only a completed backup can be restored", b.State)
		case b.Restore == nodeapi.RestoreRunning:
			return fault.New(fault.Conflict, "a restore of this backup is already running")
		}
		c, err := s.nodeClient(r.Context(), t.in)
		if err != nil {
			return err
		}
		status, err := c.RestoreBackup(r.Context(), t.in.ID, b.ID, nodeapi.RestoreRequest{Truncate: truncate})
		if err != nil {
			return nodeFault(t.in, err)
		}
		if err := s.store.SetBackupRestore(r.Context(), b.ID, nodeapi.RestoreRunning, ""); err != nil {
			return err
		}
		b.Restore, b.RestoreError = nodeapi.RestoreRunning, ""
		// A restore the node finished at once is recorded now; one it
		// reports nothing of yet is the follower's to ask about.
		if status.Restore == nodeapi.RestoreCompleted || status.Restore == nodeapi.RestoreFailed {
			if b, err = dispatch.ApplyBackupStatus(r.Context(), s.store, b, status); err != nil {
				return err
			}
		}
		detail := ""
		if truncate {
			detail = "truncate"
		}
		s.recordBackup(r, "instance.backup.restore", b, detail)
		writeJSON(w, http.StatusAccepted, viewBackup(b))
		return nil
	}
}

// backupStreamedHeaders are the node's answer headers a download relays;
// the panel names the file itself.
var backupStreamedHeaders = []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges",
	"Last-Modified", "ETag"}

// downloadBackup streams a completed backup's archive from its node, with
// Range and If-Range passed through, so that a download can resume.
func (s *Server) downloadBackup(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, b, err := s.pathBackup(r, f)
		if err != nil {
			return err
		}
		if b.State != nodeapi.BackupCompleted {
			return fault.New(fault.Conflict, "backup is %s; only a completed backup can be downloaded", b.State)
		}
		c, err := s.nodeClient(r.Context(), t.in)
		if err != nil {
			return err
		}
		h := http.Header{}
		for _, k := range []string{"Range", "If-Range"} {
			if v := r.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		stream, err := c.DownloadBackup(r.Context(), t.in.ID, b.ID, h)
		if err != nil {
			return nodeFault(t.in, err)
		}
		defer stream.Close()
		for _, k := range backupStreamedHeaders {
			if v := stream.Header.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment",
			map[string]string{"filename": backupFileName(t.in, b)}))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		s.recordBackup(r, "instance.backup.download", b, h.Get("Range"))
		w.WriteHeader(stream.Status)
		// A failure now can only cut the answer short; the client sees a
		// body shorter than its Content-Length, and may resume with Range.
		_, _ = io.Copy(w, stream.Body)
		return nil
	}
}

// backupFileName is the download's file name: the instance's and the
// backup's names, kept to letters, digits, '.', '_' and '-' so that no
// browser or shell reads anything into it.
func backupFileName(in store.Instance, b store.Backup) string {
	safe := func(s string) string {
		s = strings.Map(func(c rune) rune {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
				return c
			}
			return '-'
		}, s)
		return strings.Trim(s, ".-")
	}
	name := safe(in.Name) + "-" + safe(b.Name)
	if len(name) > 120 {
		name = name[:120]
	}
	return strings.Trim(name, ".-") + "-" + b.ID + ".tar.gz"
}

// recordBackup records a change to backup b (or its download) in the
// activity log, the backup's name and detail as what else is worth
// knowing.
func (s *Server) recordBackup(r *http.Request, action string, b store.Backup, detail string) {
	d := strconv.Quote(b.Name)
	if detail != "" {
		d += " " + detail
	}
	s.record(r, store.AuditEntry{Action: action, InstanceID: b.InstanceID, Target: b.ID, Detail: d})
}

// updateInstance changes what an admin may change of an instance: PATCH
// /api/instances/{id} {"backupLimit"}. A lower limit deletes no backup; it
// refuses new ones until enough are gone.
func (s *Server) updateInstance(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	limit, err := b.integer("backupLimit", true, 0, MaxBackupLimit)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	in, err := s.store.SetBackupLimit(r.Context(), id, int(limit))
	if err != nil {
		return err
	}
	s.record(r, store.AuditEntry{Action: "instance.update", InstanceID: id, Target: id,
		Detail: "backupLimit=" + strconv.Itoa(in.BackupLimit)})
	writeJSON(w, http.StatusOK, viewInstance(in))
	return nil
}
