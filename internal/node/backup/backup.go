// Package backup makes, keeps and serves a node's backups: a tar.gz of an
// instance's data folder, streamed while it is archived to the node's disk
// or to an S3-compatible bucket, with its state recorded on disk so that a
// node that restarts never forgets a completed backup and never leaves one
// creating forever.
//
// A Service owns the goroutines that create and restore; the node daemon
// supplies what only it knows (the data folder, the console, the power
// path) through Source and the restore's run function.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// Errors the node maps to its answers.
var (
	ErrNotFound     = errors.New("backup not found")
	ErrBusy         = errors.New("another backup or restore of this instance is running")
	ErrNotCompleted = errors.New("the backup is not completed")
	ErrNoBucket     = errors.New("the backup is in an S3 bucket, and this node has none configured")
)

// Reasons recorded when the node stops in the middle of the work.
const (
	reasonStopped        = "the node stopped during the backup"
	reasonRestoreStopped = "the node stopped during the restore"
)

// Record is what the node keeps on disk of one backup.
type Record struct {
	nodeapi.BackupStatus
	// Storage is where the archive is: StorageLocal or StorageS3.
	Storage string `json:"storage"`
	// After is the console line the backup owes the instance while it is
	// being created (save-on, say): a node killed between Before and
	// After sends it at its next start (Recover, SendInterruptedAfters).
	After string `json:"after,omitempty"`
}

// interruptedAfter is an After line a backup cut off by a stop owes its
// instance.
type interruptedAfter struct{ instance, line string }

// Source is what a backup needs of the instance it archives.
type Source struct {
	// Open opens the instance's data folder.
	Open func() (*os.Root, error)
	// Command types a line on the instance's console; it fails when the
	// instance is not running, which the backup ignores.
	Command func(line string) error
}

// Service makes and keeps the backups of one node. Its folder holds, per
// instance, <instance>/<backup>.json (the records) and, for backups kept
// on the node's disk, <instance>/<backup>.tar.gz.
type Service struct {
	dir    string
	local  local
	bucket *bucket
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*job
	// afters are the After lines Recover found owed, until
	// SendInterruptedAfters sends them.
	afters []interruptedAfter
}

// job is a create or a restore in progress.
type job struct {
	instance string
	restore  bool
	cancel   context.CancelFunc
	done     chan struct{}
	// written counts the archive's bytes so far, for Status.
	written atomic.Int64
}

// New returns the backups kept in dir, in s3's bucket when it is
// configured. Call Recover before serving.
func New(dir string, s3 S3Config, log *slog.Logger) (*Service, error) {
	s := &Service{dir: dir, local: local{dir: dir}, log: log, jobs: map[string]*job{}}
	if s3.Enabled() {
		b, err := newBucket(s3)
		if err != nil {
			return nil, err
		}
		s.bucket = b
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close ends every create and restore in progress and waits for them;
// each records itself failed.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Storage is where new backups go.
func (s *Service) Storage() string {
	if s.bucket != nil {
		return StorageS3
	}
	return StorageLocal
}

func jobKey(instance, backupID string) string { return instance + "/" + backupID }

// archiveKey is the archive's name on the node's disk and in the bucket.
func archiveKey(instance, backupID string) string { return instance + "/" + backupID + ".tar.gz" }

func recordName(instance, backupID string) string { return instance + "/" + backupID + ".json" }

func (s *Service) root() (*os.Root, error) { return s.local.root() }

// load reads a backup's record; found is false when there is none.
func (s *Service) load(instance, backupID string) (rec Record, found bool, err error) {
	root, err := s.root()
	if err != nil {
		return rec, false, err
	}
	defer root.Close()
	b, err := root.ReadFile(recordName(instance, backupID))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, false, fmt.Errorf("record of backup %s: %w", backupID, err)
	}
	return rec, true, nil
}

// save writes a record atomically: a crash leaves the old one or the new.
func (s *Service) save(instance string, rec Record) error {
	rec.Written = 0
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.MkdirAll(instance, 0o700); err != nil {
		return err
	}
	return files.WriteAtomic(root, recordName(instance, rec.ID), 0o600, func(f *os.File) error {
		_, err := f.Write(append(b, '\n'))
		return err
	})
}

// list reads every record of an instance.
func (s *Service) list(instance string) ([]Record, error) {
	root, err := s.root()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), instance)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []Record
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || nodeapi.ValidateInstanceID(id) != nil {
			continue
		}
		rec, found, err := s.load(instance, id)
		if err != nil {
			return nil, err
		}
		if found {
			recs = append(recs, rec)
		}
	}
	return recs, nil
}

// storageOf is the storage that holds rec's archive.
func (s *Service) storageOf(rec Record) (storage, error) {
	if rec.Storage == StorageS3 {
		if s.bucket == nil {
			return nil, ErrNoBucket
		}
		return s.bucket, nil
	}
	return s.local, nil
}

// Recover is run once at start, before serving. Every backup still
// creating was cut off by a stop: it becomes failed and its partial
// archive (or incomplete upload) is removed; every restore still running
// becomes failed. Temporary files of interrupted writes are removed.
// Bucket cleanups run in the background, as the bucket may be slow.
func (s *Service) Recover() error {
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	instances, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return err
	}
	for _, inst := range instances {
		if !inst.IsDir() || nodeapi.ValidateInstanceID(inst.Name()) != nil {
			continue
		}
		id := inst.Name()
		entries, err := fs.ReadDir(root.FS(), id)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if files.IsTempName(e.Name()) {
				if err := root.Remove(path.Join(id, e.Name())); err != nil {
					return err
				}
			}
		}
		recs, err := s.list(id)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := s.recoverRecord(id, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) recoverRecord(instance string, rec Record) error {
	changed := false
	if rec.State == nodeapi.BackupCreating {
		rec.State, rec.Error, changed = nodeapi.BackupFailed, reasonStopped, true
		// The line is owed once: the failed record, saved below, no
		// longer holds it, so a later start does not send it again.
		if rec.After != "" {
			s.afters = append(s.afters, interruptedAfter{instance, rec.After})
			rec.After = ""
		}
		st, err := s.storageOf(rec)
		switch {
		case err != nil:
			s.log.Warn("backup interrupted in a bucket no longer configured; its incomplete upload is left", "instance", instance, "backup", rec.ID)
		case rec.Storage == StorageS3:
			s.goAsync(func(ctx context.Context) {
				if err := st.remove(ctx, archiveKey(instance, rec.ID)); err != nil {
					s.log.Warn("remove an interrupted backup upload", "instance", instance, "backup", rec.ID, "err", err)
				}
			})
		default:
			if err := st.remove(s.ctx, archiveKey(instance, rec.ID)); err != nil {
				return err
			}
		}
	}
	if rec.Restore == nodeapi.RestoreRunning {
		rec.Restore, rec.RestoreError, changed = nodeapi.RestoreFailed, reasonRestoreStopped, true
	}
	if !changed {
		return nil
	}
	s.log.Warn("backup work interrupted by a stop", "instance", instance, "backup", rec.ID)
	return s.save(instance, rec)
}

// SendInterruptedAfters sends, through send, the After lines of the
// backups Recover found cut off between their Before and After (a game
// left with saving off loses its progress), each once. The daemon calls
// it once its instances' supervisors are up; send fails for an instance
// that is not running, which then needs nothing.
func (s *Service) SendInterruptedAfters(send func(instance, line string) error) {
	s.mu.Lock()
	afters := s.afters
	s.afters = nil
	s.mu.Unlock()
	for _, a := range afters {
		if err := send(a.instance, a.line); err != nil {
			s.log.Info("a backup's after command was not sent after a stop", "instance", a.instance, "err", err)
			continue
		}
		s.log.Warn("a backup cut off by a stop: its after command is sent now", "instance", a.instance)
	}
}

// goAsync runs fn in a goroutine that Close ends and waits for.
func (s *Service) goAsync(fn func(ctx context.Context)) {
	s.wg.Go(func() { fn(s.ctx) })
}

// busyLocked reports whether a job of instance conflicts with a new one:
// a restore conflicts with everything, creates only with a restore.
func (s *Service) busyLocked(instance string, restore bool) bool {
	for _, j := range s.jobs {
		if j.instance == instance && (restore || j.restore) {
			return true
		}
	}
	return false
}

// startLocked registers a job and runs it in the background. run
// returns the record to save as the job's end, or false when there is
// none to save (the backup was deleted meanwhile). The record is saved and
// the job dropped at once, under s.mu, so that whoever reads the end also
// finds the instance free for the next job.
func (s *Service) startLocked(instance, backupID string, restore bool, run func(ctx context.Context, j *job) (Record, bool)) {
	ctx, cancel := context.WithCancel(s.ctx)
	j := &job{instance: instance, restore: restore, cancel: cancel, done: make(chan struct{})}
	key := jobKey(instance, backupID)
	s.jobs[key] = j
	s.wg.Go(func() {
		defer close(j.done)
		rec, save := run(ctx, j)
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.jobs, key)
		if !save {
			return
		}
		if err := s.save(instance, rec); err != nil {
			s.log.Error("record the end of a backup or restore", "instance", instance, "backup", backupID, "err", err)
		}
	})
}

// Restoring reports whether a restore of instance is running: its data
// folder is about to be replaced, so writes to it would be lost.
func (s *Service) Restoring(instance string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.instance == instance && j.restore {
			return true
		}
	}
	return false
}

// status is rec as the panel sees it, with the progress of its job.
func (s *Service) status(instance string, rec Record) nodeapi.BackupStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked(instance, rec)
}

// Create starts backup req.ID of instance and answers its status at once.
// A backup already known by that ID is answered as it is, and nothing new
// starts.
func (s *Service) Create(instance string, req nodeapi.BackupRequest, src Source) (nodeapi.BackupStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, found, err := s.load(instance, req.ID)
	if err != nil {
		return nodeapi.BackupStatus{}, err
	}
	if found {
		return s.statusLocked(instance, rec), nil
	}
	if s.busyLocked(instance, false) {
		return nodeapi.BackupStatus{}, ErrBusy
	}
	rec = Record{BackupStatus: nodeapi.BackupStatus{ID: req.ID, State: nodeapi.BackupCreating}, Storage: s.Storage(), After: req.After}
	if err := s.save(instance, rec); err != nil {
		return nodeapi.BackupStatus{}, err
	}
	s.startLocked(instance, req.ID, false, func(ctx context.Context, j *job) (Record, bool) {
		return s.create(ctx, j, instance, rec, req, src)
	})
	return rec.BackupStatus, nil
}

// statusLocked is status for a caller that holds s.mu.
func (s *Service) statusLocked(instance string, rec Record) nodeapi.BackupStatus {
	st := rec.BackupStatus
	if j := s.jobs[jobKey(instance, rec.ID)]; j != nil && !j.restore {
		st.Written = j.written.Load()
	}
	return st
}

// create runs one backup and returns how it ended, and whether to record
// it. After is sent even when archiving failed: a game left with saving
// off loses its progress.
func (s *Service) create(ctx context.Context, j *job, instance string, rec Record, req nodeapi.BackupRequest, src Source) (Record, bool) {
	if req.Before != "" {
		_ = src.Command(req.Before) // a stopped instance gets nothing
	}
	bytes, sum, err := s.archive(ctx, j, instance, rec, src)
	if req.After != "" {
		_ = src.Command(req.After)
	}
	rec.After = ""
	switch {
	case err == nil:
		rec.State, rec.Bytes, rec.SHA256, rec.CompletedAt = nodeapi.BackupCompleted, bytes, sum, time.Now().UTC()
	case s.ctx.Err() != nil:
		rec.State, rec.Error = nodeapi.BackupFailed, reasonStopped
	default:
		rec.State, rec.Error = nodeapi.BackupFailed, "archive the data folder: "+err.Error()
		s.log.Warn("backup failed", "instance", instance, "backup", rec.ID, "err", err)
	}
	// Deleted while it ran: Delete removes the record.
	deleted := ctx.Err() != nil && s.ctx.Err() == nil
	return rec, !deleted
}

// progress counts what passes through it.
type progress struct{ n *atomic.Int64 }

func (p progress) Write(b []byte) (int, error) {
	p.n.Add(int64(len(b)))
	return len(b), nil
}

// archive streams the data folder's tar.gz into the storage, hashing and
// counting it on the way: the archive is never staged anywhere else.
func (s *Service) archive(ctx context.Context, j *job, instance string, rec Record, src Source) (int64, string, error) {
	st, err := s.storageOf(rec)
	if err != nil {
		return 0, "", err
	}
	root, err := src.Open()
	if err != nil {
		return 0, "", err
	}
	defer root.Close()
	pr, pw := io.Pipe()
	h := sha256.New()
	written := make(chan error, 1)
	go func() {
		err := Write(ctx, root, io.MultiWriter(pw, h, progress{&j.written}))
		pw.CloseWithError(err)
		written <- err
	}()
	putErr := st.put(ctx, archiveKey(instance, rec.ID), pr)
	// Unblocks the writer when put gave up before reading everything.
	pr.CloseWithError(errors.Join(putErr, io.ErrClosedPipe))
	if werr := <-written; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return 0, "", werr
	}
	if putErr != nil {
		return 0, "", putErr
	}
	return j.written.Load(), hex.EncodeToString(h.Sum(nil)), nil
}

// Status reports one backup.
func (s *Service) Status(instance, backupID string) (nodeapi.BackupStatus, error) {
	rec, found, err := s.load(instance, backupID)
	if err != nil {
		return nodeapi.BackupStatus{}, err
	}
	if !found {
		return nodeapi.BackupStatus{}, ErrNotFound
	}
	return s.status(instance, rec), nil
}

// Open reads a completed backup's archive, seekably, with its record.
func (s *Service) Open(ctx context.Context, instance, backupID string) (io.ReadSeekCloser, Record, error) {
	rec, found, err := s.load(instance, backupID)
	if err != nil {
		return nil, rec, err
	}
	if !found {
		return nil, rec, ErrNotFound
	}
	if rec.State != nodeapi.BackupCompleted {
		return nil, rec, ErrNotCompleted
	}
	st, err := s.storageOf(rec)
	if err != nil {
		return nil, rec, err
	}
	r, err := st.open(ctx, archiveKey(instance, backupID))
	return r, rec, err
}

// Delete removes a backup, its archive first and then its record, so
// that a failure leaves it listed for another try. A backup being
// created is stopped first; one being restored is ErrBusy. A backup the
// node does not know is already deleted.
func (s *Service) Delete(ctx context.Context, instance, backupID string) error {
	s.mu.Lock()
	j := s.jobs[jobKey(instance, backupID)]
	s.mu.Unlock()
	if j != nil {
		if j.restore {
			return ErrBusy
		}
		j.cancel()
		<-j.done
	}
	rec, found, err := s.load(instance, backupID)
	if err != nil || !found {
		return err
	}
	return s.removeRecord(ctx, instance, rec)
}

func (s *Service) removeRecord(ctx context.Context, instance string, rec Record) error {
	st, err := s.storageOf(rec)
	if err != nil {
		return err
	}
	if err := st.remove(ctx, archiveKey(instance, rec.ID)); err != nil {
		return fmt.Errorf("remove the archive of backup %s: %w", rec.ID, err)
	}
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(recordName(instance, rec.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveInstance deletes every backup of instance, locked ones included
// (the panel documents it: deleting an instance deletes its backups),
// after stopping the work in progress on them.
func (s *Service) RemoveInstance(ctx context.Context, instance string) error {
	s.mu.Lock()
	var running []*job
	for _, j := range s.jobs {
		if j.instance == instance {
			j.cancel()
			running = append(running, j)
		}
	}
	s.mu.Unlock()
	for _, j := range running {
		<-j.done
	}
	recs, err := s.list(instance)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := s.removeRecord(ctx, instance, rec); err != nil {
			return err
		}
	}
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	return root.RemoveAll(instance)
}

// Restore starts restoring a completed backup and answers its status at
// once. run does the work (stop, extract, swap, start) in the background;
// fetch, which it is given, writes the archive to w. Its error is recorded
// as the restore's.
func (s *Service) Restore(instance, backupID string, run func(ctx context.Context, fetch func(ctx context.Context, w io.Writer) error) error) (nodeapi.BackupStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, found, err := s.load(instance, backupID)
	if err != nil {
		return nodeapi.BackupStatus{}, err
	}
	if !found {
		return nodeapi.BackupStatus{}, ErrNotFound
	}
	if rec.State != nodeapi.BackupCompleted {
		return nodeapi.BackupStatus{}, ErrNotCompleted
	}
	if s.busyLocked(instance, true) {
		return nodeapi.BackupStatus{}, ErrBusy
	}
	st, err := s.storageOf(rec)
	if err != nil {
		return nodeapi.BackupStatus{}, err
	}
	rec.Restore, rec.RestoreError = nodeapi.RestoreRunning, ""
	if err := s.save(instance, rec); err != nil {
		return nodeapi.BackupStatus{}, err
	}
	fetch := func(ctx context.Context, w io.Writer) error {
		r, err := st.open(ctx, archiveKey(instance, backupID))
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(w, r)
		return err
	}
	answer := rec.BackupStatus
	s.startLocked(instance, backupID, true, func(ctx context.Context, _ *job) (Record, bool) {
		err := run(ctx, fetch)
		rec.Restore, rec.RestoreError = nodeapi.RestoreCompleted, ""
		switch {
		case err != nil && s.ctx.Err() != nil:
			rec.Restore, rec.RestoreError = nodeapi.RestoreFailed, reasonRestoreStopped
		case err != nil:
			rec.Restore, rec.RestoreError = nodeapi.RestoreFailed, err.Error()
			s.log.Warn("restore failed", "instance", instance, "backup", backupID, "err", err)
		}
		// Canceled alone: the instance was removed, its backups with it.
		removed := ctx.Err() != nil && s.ctx.Err() == nil
		return rec, !removed
	})
	return answer, nil
}
