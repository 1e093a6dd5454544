package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// The file API: /v1/instances/{id}/files/... and /v1/instances/{id}/disk.
// Every path is checked by the files package and resolved inside the
// instance's data folder through os.Root. File operations do not take the
// instance's lock: an upload may last minutes, and must not hold up a stop.

// bodyIdleTimeout is how long an upload may send nothing before it is cut
// off; the server's own read timeout would end any upload after a minute.
const bodyIdleTimeout = time.Minute

// filesStatus maps each kind of files error to its status.
var filesStatus = map[files.Kind]int{
	files.Invalid:   http.StatusBadRequest,
	files.Escape:    http.StatusForbidden,
	files.NotExist:  http.StatusNotFound,
	files.Exist:     http.StatusConflict,
	files.TooLarge:  http.StatusRequestEntityTooLarge,
	files.OverLimit: http.StatusRequestEntityTooLarge,
	files.Denied:    http.StatusForbidden,
}

// fileError turns a files error into the answer the panel sees. Other
// errors are left to classify, which hides them behind a 500.
func fileError(err error) error {
	var fe *files.Error
	if errors.As(err, &fe) {
		return &apiError{filesStatus[fe.Kind], fe.Error()}
	}
	return err
}

// fileHandler is a file API handler: it gets the instance's opened data
// folder and returns its failure.
type fileHandler func(w http.ResponseWriter, r *http.Request, id string, f *files.Folder) error

// fileRoute adapts h: it validates the instance ID, opens the data folder (with
// its disk usage measured first when write is set) and maps the errors.
func (d *Daemon) fileRoute(write bool, h fileHandler) http.Handler {
	return d.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		f, err := d.openFolder(r.Context(), id, write)
		if err != nil {
			return err
		}
		defer f.Close()
		return fileError(h(w, r, id, f))
	})
}

// openFolder opens an instance's data folder for the file API. A write
// needs the folder's usage measured, so that the limit can be enforced;
// the first write after the daemon starts pays for that one walk.
func (d *Daemon) openFolder(ctx context.Context, id string, write bool) (*files.Folder, error) {
	rec, err := d.storedRecord(id)
	if err != nil {
		return nil, err
	}
	var usage *files.Usage
	if write {
		// A write during a restore would land in the folder the restore
		// swaps out and deletes: it is refused instead of lost.
		if d.backups.Restoring(id) {
			return nil, errRestoring
		}
		u, err := d.disk.Measure(ctx, id, rec.Spec.DiskMiB, false)
		if err != nil {
			return nil, err
		}
		usage = &u.Usage
	} else {
		usage = &d.disk.Entry(id).Usage
	}
	root, err := d.volumes.Open(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &apiError{http.StatusConflict, "the instance's data folder does not exist yet"}
	}
	if err != nil {
		return nil, fmt.Errorf("data folder of %s: %w", id, err)
	}
	f := files.NewFolder(root, usage)
	f.SetOwner(d.volumes.Owner().UID, d.volumes.Owner().GID)
	f.SetDenylist(files.NewDenylist(rec.Spec.FileDenylist))
	return f, nil
}

// queryPath reads the path query parameter. The query is parsed strictly:
// a malformed one is refused rather than read as no path at all.
func queryPath(r *http.Request, required bool) (string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", &apiError{http.StatusBadRequest, "query: is malformed"}
	}
	if required && !q.Has("path") {
		return "", &nodeapi.FieldError{Field: "path", Rule: "is required"}
	}
	return q.Get("path"), nil
}

func (d *Daemon) handleListFiles(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	p, err := queryPath(r, false)
	if err != nil {
		return err
	}
	list, err := f.List(p)
	if err != nil {
		return err
	}
	out := nodeapi.FileList{Path: list.Path, Entries: make([]nodeapi.FileEntry, len(list.Entries)), Truncated: list.Truncated}
	for i, e := range list.Entries {
		out.Entries[i] = wireEntry(e, "")
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func wireEntry(e files.Entry, p string) nodeapi.FileEntry {
	return nodeapi.FileEntry{Name: e.Name, Path: p, Size: e.Size, Mode: e.Mode.String(),
		ModTime: e.ModTime, IsDir: e.IsDir, IsSymlink: e.IsSymlink}
}

// cleanPath is the cleaned form of a path that was already accepted.
func cleanPath(p string) string {
	c, _ := files.Clean("path", p)
	return c
}

func (d *Daemon) handleReadFile(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	p, err := queryPath(r, true)
	if err != nil {
		return err
	}
	file, e, err := f.OpenFile("path", p, nodeapi.MaxFileContentBytes)
	if err != nil {
		return err
	}
	defer file.Close()
	setFileHeaders(w, e)
	w.Header().Set("Content-Length", strconv.FormatInt(e.Size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, io.LimitReader(file, e.Size))
	return nil
}

// setFileHeaders describes a file's bytes so that no client takes them
// for a page to render: they are the game's, not ours.
func setFileHeaders(w http.ResponseWriter, e files.Entry) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Last-Modified", e.ModTime.Format(http.TimeFormat))
}

func (d *Daemon) handleDownloadFile(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	p, err := queryPath(r, true)
	if err != nil {
		return err
	}
	file, e, err := f.OpenFile("path", p, 0)
	if err != nil {
		return err
	}
	defer file.Close()
	setFileHeaders(w, e)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": e.Name}))
	// ServeContent answers ranges and conditional requests, so a broken
	// download of a large world can resume.
	http.ServeContent(w, r, "", e.ModTime, file)
	return nil
}

func (d *Daemon) handleWriteFile(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	p, err := queryPath(r, true)
	if err != nil {
		return err
	}
	e, err := f.Write(p, r.Body, r.ContentLength, nodeapi.MaxFileContentBytes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireEntry(e, cleanPath(p)))
	return nil
}

func (d *Daemon) handleUploadFiles(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	p, err := queryPath(r, false)
	if err != nil {
		return err
	}
	lim := d.cfg.Files.withDefaults()
	if r.ContentLength > 0 {
		if err := f.Usage().Check("body", r.ContentLength-multipartSlack); err != nil {
			return err
		}
	}
	// The slack covers the form's own headers and boundaries.
	r.Body = http.MaxBytesReader(w, r.Body, lim.MaxUploadBytes+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return &nodeapi.FieldError{Field: "body", Rule: "must be multipart/form-data"}
	}
	written, err := f.Upload(p, mr, files.UploadLimits{MaxFileBytes: lim.MaxUploadFileBytes, MaxTotalBytes: lim.MaxUploadBytes})
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body: the upload is over its cap of %s", files.FormatBytes(lim.MaxUploadBytes))}
	}
	if err != nil {
		return err
	}
	res := nodeapi.UploadResult{Files: make([]nodeapi.FileEntry, len(written))}
	for i, e := range written {
		res.Files[i] = wireEntry(e, e.Name)
		res.Files[i].Name = path.Base(e.Name)
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// multipartSlack is what a multipart body may hold beyond its files.
const multipartSlack = 1 << 20

func (d *Daemon) handleMkdir(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	var req nodeapi.PathRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := f.Mkdir(req.Path); err != nil {
		return err
	}
	e, err := f.Stat("path", req.Path)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wireEntry(e, cleanPath(req.Path)))
	return nil
}

func (d *Daemon) handleRename(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	var req nodeapi.RenameRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := f.Rename(req.From, req.To); err != nil {
		return err
	}
	e, err := f.Stat("to", req.To)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireEntry(e, cleanPath(req.To)))
	return nil
}

func (d *Daemon) handleDelete(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	var req nodeapi.DeleteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := f.Delete(req.Paths); err != nil {
		return err
	}
	res := nodeapi.DeleteResult{Deleted: make([]string, len(req.Paths))}
	for i, p := range req.Paths {
		res.Deleted[i] = cleanPath(p)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (d *Daemon) handleCompress(w http.ResponseWriter, r *http.Request, _ string, f *files.Folder) error {
	var req nodeapi.CompressRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	e, err := f.Compress(req.Paths, req.Destination)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wireEntry(e, cleanPath(req.Destination)))
	return nil
}

func (d *Daemon) handleExtract(w http.ResponseWriter, r *http.Request, id string, f *files.Folder) error {
	var req nodeapi.ExtractRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := d.allowExtract(w, id); err != nil {
		return err
	}
	lim := d.cfg.Files.withDefaults()
	res, err := f.Extract(req.Path, req.Destination, files.ExtractLimits{MaxBytes: lim.MaxExtractBytes, MaxEntries: lim.MaxExtractEntries})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nodeapi.ExtractResult{Files: res.Files, Bytes: res.Bytes})
	return nil
}

func (d *Daemon) handleDisk(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rec, err := d.storedRecord(id)
	if err != nil {
		return err
	}
	u, err := d.disk.Measure(r.Context(), id, rec.Spec.DiskMiB, false)
	if err != nil {
		return err
	}
	used, _ := u.Used()
	writeJSON(w, http.StatusOK, nodeapi.DiskUsage{UsedBytes: used, LimitBytes: u.Limit()})
	return nil
}

// storedRecord returns the instance's stored records.Record, or
// errInstanceNotFound when the node has none.
func (d *Daemon) storedRecord(id string) (records.Record, error) {
	rec, found, err := d.records.Load(id)
	if err == nil && !found {
		err = errInstanceNotFound
	}
	return rec, err
}
