package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/node/backup"
	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// The backup API: /v1/instances/{id}/backups/... . The backup package
// makes and keeps the archives; this file gives it the instance's folder
// and console, and carries out restores through the power path.

// BackupS3Config is the bucket a node's backups go to (backup.S3Config).
type BackupS3Config = backup.S3Config

// backupStatus maps the backup package's errors to answers.
var backupStatus = []struct {
	err    error
	status int
}{
	{backup.ErrNotFound, http.StatusNotFound},
	{backup.ErrBusy, http.StatusConflict},
	{backup.ErrNotCompleted, http.StatusConflict},
	{backup.ErrNoBucket, http.StatusConflict},
}

// backupError turns a backup error into the answer the panel sees.
func backupError(err error) error {
	for _, b := range backupStatus {
		if errors.Is(err, b.err) {
			return &apiError{b.status, b.err.Error()}
		}
	}
	return err
}

// pathBackupID reads and checks the {backupId} of the path.
func pathBackupID(r *http.Request) (string, error) {
	id := r.PathValue("backupId")
	if err := nodeapi.ValidateInstanceID(id); err != nil {
		var fe *nodeapi.FieldError
		if errors.As(err, &fe) {
			return "", &nodeapi.FieldError{Field: "backupId", Rule: fe.Rule}
		}
		return "", err
	}
	return id, nil
}

// backupRoute adapts a handler of one backup: it checks both IDs.
func (d *Daemon) backupRoute(h func(w http.ResponseWriter, r *http.Request, id, backupID string) error) http.Handler {
	return d.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		backupID, err := pathBackupID(r)
		if err != nil {
			return err
		}
		return backupError(h(w, r, id, backupID))
	})
}

func (d *Daemon) handleCreateBackup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req nodeapi.BackupRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := nodeapi.ValidateInstanceID(req.ID); err != nil {
		var fe *nodeapi.FieldError
		if errors.As(err, &fe) {
			return &nodeapi.FieldError{Field: "id", Rule: fe.Rule}
		}
		return err
	}
	for _, c := range []struct{ field, line string }{{"before", req.Before}, {"after", req.After}} {
		if c.line == "" {
			continue
		}
		if err := console.CheckCommand(c.line); err != nil {
			return &nodeapi.FieldError{Field: c.field, Rule: err.Error()}
		}
	}
	if _, err := d.storedRecord(id); err != nil {
		return err
	}
	st, err := d.backups.Create(id, req, backup.Source{
		Open:    func() (*os.Root, error) { return d.volumes.Open(id) },
		Command: func(line string) error { return d.command(id, line) },
	})
	if err != nil {
		return backupError(err)
	}
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

// command types line on the instance's console, when it runs.
func (d *Daemon) command(id, line string) error {
	s := d.sups.lookup(id)
	if s == nil {
		return errNotRunning
	}
	return s.command(line)
}

func (d *Daemon) handleGetBackup(w http.ResponseWriter, r *http.Request, id, backupID string) error {
	st, err := d.backups.Status(id, backupID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (d *Daemon) handleDownloadBackup(w http.ResponseWriter, r *http.Request, id, backupID string) error {
	archive, rec, err := d.backups.Open(r.Context(), id, backupID)
	if err != nil {
		return err
	}
	defer archive.Close()
	h := w.Header()
	h.Set("Content-Type", "application/gzip")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": backupID + ".tar.gz"}))
	// The archive never changes once complete: its hash is a strong ETag,
	// which If-Range needs to resume a download.
	h.Set("ETag", `"`+rec.SHA256+`"`)
	http.ServeContent(w, r, "", rec.CompletedAt, archive)
	return nil
}

func (d *Daemon) handleRestoreBackup(w http.ResponseWriter, r *http.Request, id, backupID string) error {
	var req nodeapi.RestoreRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := d.storedRecord(id); err != nil {
		return err
	}
	st, err := d.backups.Restore(id, backupID, func(ctx context.Context, fetch func(context.Context, io.Writer) error) error {
		return d.restore(ctx, id, req.Truncate, fetch)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

func (d *Daemon) handleDeleteBackup(w http.ResponseWriter, r *http.Request, id, backupID string) error {
	if err := d.backups.Delete(r.Context(), id, backupID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// restore replaces the instance's data with a backup's, serialized with
// its power actions: it stops the instance through the power path (so
// that the stop is not taken for a crash), swaps in the restored folder,
// and starts it again if it was running. A failure before the swap leaves
// the old folder as it was.
func (d *Daemon) restore(ctx context.Context, id string, truncate bool, fetch func(context.Context, io.Writer) error) error {
	ctx, unlock, err := d.lockInstance(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := d.storedRecord(id)
	if err != nil {
		return err
	}
	st, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	running := st != nil && st.Running
	if running {
		if err := d.stop(ctx, id, &rec, d.cfg.StopTimeout); err != nil {
			return fmt.Errorf("stop the instance: %w", err)
		}
	}
	// Its SFTP sessions end, and new ones (and file API writes) are
	// refused while the restore runs (openFolder): what they wrote would
	// go to the old folder, which the swap deletes.
	d.endSFTPSessions(id, "a restore of this instance is running")
	err = d.replaceData(ctx, id, rec, truncate, fetch)
	if running {
		if serr := d.powerOn(ctx, id, &rec); serr != nil {
			err = errors.Join(err, fmt.Errorf("start the instance again: %w", serr))
		}
	}
	return err
}

// restorePrefix names a restore's staging folder, beside the data
// folders: no instance ID starts with a dot.
const restorePrefix = ".restore-"

// Inside a staging folder: the archive, the folder being built, and the
// old folder once swapped out.
const (
	stagedArchive = "backup.tar.gz"
	stagedData    = "data"
	stagedOld     = "old"
)

// replaceData builds the restored folder in a staging folder beside the
// data folder and swaps it in. Without truncate it starts as hard links to
// the old folder's files (the extraction replaces a file by renaming a new
// one over it, so an old file is never written through its link), and the
// archive's files win. The extraction has the file API's rules: no entry
// or link may lead outside, and the disk limit holds.
func (d *Daemon) replaceData(ctx context.Context, id string, rec records.Record, truncate bool, fetch func(context.Context, io.Writer) error) error {
	parent, err := os.OpenRoot(d.volumes.Dir())
	if err != nil {
		return err
	}
	defer parent.Close()
	staging := restorePrefix + id
	if err := parent.RemoveAll(staging); err != nil {
		return err
	}
	if err := parent.Mkdir(staging, 0o700); err != nil {
		return err
	}
	defer parent.RemoveAll(staging)
	sroot, err := parent.OpenRoot(staging)
	if err != nil {
		return err
	}
	defer sroot.Close()
	if err := files.WriteAtomic(sroot, stagedArchive, 0o600, func(f *os.File) error { return fetch(ctx, f) }); err != nil {
		return fmt.Errorf("fetch the archive: %w", err)
	}

	usage := &files.Usage{}
	usage.SetLimit(rec.Spec.DiskMiB * files.MiB)
	usage.Set(0)
	owner := d.volumes.Owner()
	if truncate {
		if err := sroot.Mkdir(stagedData, 0o750); err != nil {
			return err
		}
		if err := sroot.Lchown(stagedData, owner.UID, owner.GID); err != nil {
			return err
		}
	} else {
		if err := linkTree(ctx, parent, id, path.Join(staging, stagedData)); err != nil {
			return fmt.Errorf("copy the current files: %w", err)
		}
		u, err := d.disk.Measure(ctx, id, rec.Spec.DiskMiB, true)
		if err != nil {
			return err
		}
		used, _ := u.Used()
		usage.Set(used)
	}
	f := files.NewFolder(sroot, usage)
	f.SetOwner(owner.UID, owner.GID)
	if _, err := f.Extract(stagedArchive, stagedData, files.ExtractLimits{}); err != nil {
		return fmt.Errorf("extract the backup: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// The swap: two renames. A node killed between them finds the old
	// folder in the staging folder at start, and puts it back
	// (recoverRestores).
	if err := parent.Rename(id, path.Join(staging, stagedOld)); err != nil {
		return err
	}
	if err := parent.Rename(path.Join(staging, stagedData), id); err != nil {
		if rerr := parent.Rename(path.Join(staging, stagedOld), id); rerr != nil {
			return fmt.Errorf("%w (and the old folder could not be put back: %w)", err, rerr)
		}
		return err
	}
	if _, err := d.disk.Measure(ctx, id, rec.Spec.DiskMiB, true); err != nil {
		d.log.Warn("measure a restored data folder", "instance", id, "err", err)
	}
	return nil
}

// linkTree makes to a copy of the folder from, both in root, whose files
// are hard links to from's. Folders keep their mode and owner; a file that
// cannot be linked (hard links protected, another filesystem) is copied.
func linkTree(ctx context.Context, root *os.Root, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := root.Lstat(from)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", from)
	}
	if err := root.Mkdir(to, info.Mode().Perm()); err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		if err := root.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	entries, err := fs.ReadDir(root.FS(), from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := path.Join(from, e.Name()), path.Join(to, e.Name())
		if e.IsDir() {
			if err := linkTree(ctx, root, src, dst); err != nil {
				return err
			}
			continue
		}
		if err := root.Link(src, dst); err != nil {
			if err := copyEntry(root, src, dst, e.Type()); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyEntry copies a link or a regular file that could not be hard
// linked; anything else (FIFOs, devices) is left out, as backups leave it.
func copyEntry(root *os.Root, src, dst string, mode fs.FileMode) error {
	switch {
	case mode&fs.ModeSymlink != 0:
		target, err := root.Readlink(src)
		if err != nil {
			return err
		}
		return root.Symlink(target, dst)
	case mode.IsRegular():
		in, err := root.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		info, err := in.Stat()
		if err != nil {
			return err
		}
		out, err := root.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && err == nil {
			err = root.Lchown(dst, int(st.Uid), int(st.Gid))
		}
		return err
	}
	return nil
}

// recoverRestores finishes, at start, the restores a stop cut off: a
// staging folder whose data folder is missing was stopped mid-swap, and
// its old folder goes back; then every staging folder is removed.
func (d *Daemon) recoverRestores() error {
	parent, err := os.OpenRoot(d.volumes.Dir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	entries, err := fs.ReadDir(parent.FS(), ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), restorePrefix)
		if !ok || nodeapi.ValidateInstanceID(id) != nil {
			continue
		}
		old := path.Join(e.Name(), stagedOld)
		if _, err := parent.Lstat(id); errors.Is(err, fs.ErrNotExist) {
			if _, err := parent.Lstat(old); err == nil {
				d.log.Warn("a restore was cut off mid-swap; its old data folder is put back", "instance", id)
				if err := parent.Rename(old, id); err != nil {
					return err
				}
			}
		}
		if err := parent.RemoveAll(e.Name()); err != nil {
			return err
		}
	}
	return nil
}
