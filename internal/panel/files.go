package panel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// The file manager: /api/instances/files/{id}/... proxies each call to the
// instance's node, which does the work inside the instance's data folder.
// Paths are checked here too, so that a bad one is refused with its field
// named before any node is called; file bytes stream through without
// being held in memory.

// DefaultMaxUploadBytes is the panel's cap on one upload when Config sets
// none. The node has caps of its own.
const DefaultMaxUploadBytes = 1 << 30

// maxPathsPerRequest bounds the paths of one delete or compress.
const maxPathsPerRequest = 1000

// fileKindFaults maps the kinds of a path error to the panel's kinds.
var fileKindFaults = map[files.Kind]fault.Kind{
	files.Invalid:  fault.Invalid,
	files.Escape:   fault.Permission,
	files.NotExist: fault.NotExist,
	files.Exist:    fault.Conflict,
}

// fileFault explains a failed file call: a path refused here, a body over
// the panel's cap (which may trip while the body is relayed), or the
// node's failure.
func fileFault(in store.Instance, err error) error {
	var fe *files.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		return &fault.Error{Kind: fileKindFaults[fe.Kind], Field: fe.Field, Msg: fe.Error()}
	case errors.As(err, &tooBig):
		return fault.New(fault.TooLarge, "body: is larger than the panel's cap of %s", files.FormatBytes(tooBig.Limit))
	}
	return nodeFault(in, err)
}

// queryFilePath reads and checks the path query parameter. The query is
// parsed strictly, so that a malformed one is not read as no path.
func queryFilePath(r *http.Request, required bool) (string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", fault.InvalidField("query", "is malformed")
	}
	if required && !q.Has("path") {
		return "", fault.InvalidField("path", "is required")
	}
	p := q.Get("path")
	if _, err := files.Clean("path", p); err != nil {
		return "", err
	}
	return p, nil
}

// filePath reads a path field of a JSON or form body, as sent: unlike
// str, it does not trim, since a name may end in a space.
func (b body) filePath(name string, required bool) (string, error) {
	if !b.present(name) {
		if required {
			return "", fault.InvalidField(name, "is required")
		}
		return "", nil
	}
	var p string
	if json.Unmarshal(b[name], &p) != nil {
		return "", fault.InvalidField(name, "must be a string")
	}
	if _, err := files.Clean(name, p); err != nil {
		return "", err
	}
	return p, nil
}

// filePaths reads a list of paths.
func (b body) filePaths(name string) ([]string, error) {
	list, err := b.strings(name, "paths")
	if err != nil {
		return nil, err
	}
	if len(list) == 0 || len(list) > maxPathsPerRequest {
		return nil, fault.InvalidField(name, "must hold 1 to %d paths", maxPathsPerRequest)
	}
	for _, p := range list {
		if _, err := files.Clean(name, p); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// fileOp is one call to the instance's node, returning what to answer.
type fileOp func(ctx context.Context, c *nodeapi.Client, id string) (any, error)

// runFileOp resolves the instance through f, runs op against its node and
// answers op's result with status. A change is audited as
// "instance.files.<action>"; an empty action is a read.
func (s *Server) runFileOp(w http.ResponseWriter, r *http.Request, f instanceFront, action string, status int, op fileOp) error {
	t, c, err := s.instanceAndNode(r, f)
	if err != nil {
		return err
	}
	res, err := op(r.Context(), c, t.in.ID)
	if err != nil {
		return fileFault(t.in, err)
	}
	if action != "" {
		s.auditInstance(r, "instance.files."+action, t.in.ID)
	}
	writeJSON(w, status, res)
	return nil
}

// bodyFileOp is a file call that takes a JSON or form body: parse reads it
// into the op, or refuses it before any instance is resolved.
func (s *Server) bodyFileOp(f instanceFront, action string, status int, parse func(b body) (fileOp, error)) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		op, err := parse(b)
		if err != nil {
			return fileFault(store.Instance{}, err)
		}
		return s.runFileOp(w, r, f, action, status, op)
	}
}

// listFiles answers the content of a folder: GET ?path=.
func (s *Server) listFiles(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := queryFilePath(r, false)
		if err != nil {
			return fileFault(store.Instance{}, err)
		}
		return s.runFileOp(w, r, f, "", http.StatusOK, func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.ListFiles(ctx, id, p)
		})
	}
}

// readFileContent streams a file of at most nodeapi.MaxFileContentBytes.
func (s *Server) readFileContent(f instanceFront) handler { return s.streamFile(f, false) }

// downloadFile streams a file of any size, ranges included.
func (s *Server) downloadFile(f instanceFront) handler { return s.streamFile(f, true) }

// streamedHeaders are the node's answer headers a file stream relays.
var streamedHeaders = []string{"Content-Type", "Content-Length", "Content-Disposition", "Content-Range",
	"Accept-Ranges", "Last-Modified", "X-Content-Type-Options", "Content-Security-Policy"}

func (s *Server) streamFile(f instanceFront, download bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := queryFilePath(r, true)
		if err != nil {
			return fileFault(store.Instance{}, err)
		}
		t, c, err := s.instanceAndNode(r, f)
		if err != nil {
			return err
		}
		var stream *nodeapi.FileStream
		if download {
			h := http.Header{}
			for _, k := range []string{"Range", "If-Range"} {
				if v := r.Header.Get(k); v != "" {
					h.Set(k, v)
				}
			}
			stream, err = c.DownloadFile(r.Context(), t.in.ID, p, h)
		} else {
			stream, err = c.FileContent(r.Context(), t.in.ID, p)
		}
		if err != nil {
			return fileFault(t.in, err)
		}
		defer stream.Close()
		for _, k := range streamedHeaders {
			if v := stream.Header.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		w.WriteHeader(stream.Status)
		// A failure now can only cut the answer short; the client sees a
		// body shorter than its Content-Length.
		_, _ = io.Copy(w, stream.Body)
		return nil
	}
}

// writeFileContent replaces a file with the request body: PUT ?path=.
func (s *Server) writeFileContent(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := queryFilePath(r, true)
		if err == nil && r.ContentLength > nodeapi.MaxFileContentBytes {
			err = &http.MaxBytesError{Limit: nodeapi.MaxFileContentBytes}
		}
		if err != nil {
			return fileFault(store.Instance{}, err)
		}
		return s.runFileOp(w, r, f, "write", http.StatusOK, func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.WriteFileContent(ctx, id, p, r.Body, r.ContentLength)
		})
	}
}

// uploadFiles relays a multipart upload to the node as it arrives.
func (s *Server) uploadFiles(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := queryFilePath(r, false)
		ct := r.Header.Get("Content-Type")
		if mt, _, perr := mime.ParseMediaType(ct); err == nil && (perr != nil || mt != "multipart/form-data") {
			err = fault.InvalidField("body", "must be multipart/form-data")
		}
		if err == nil && r.ContentLength > s.cfg.MaxUploadBytes {
			err = &http.MaxBytesError{Limit: s.cfg.MaxUploadBytes}
		}
		if err != nil {
			return fileFault(store.Instance{}, err)
		}
		return s.runFileOp(w, r, f, "upload", http.StatusCreated, func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.UploadFiles(ctx, id, p, ct, r.Body, r.ContentLength)
		})
	}
}

// makeDir creates a folder: POST {path}.
func (s *Server) makeDir(f instanceFront) handler {
	return s.bodyFileOp(f, "mkdir", http.StatusCreated, func(b body) (fileOp, error) {
		p, err := b.filePath("path", true)
		return func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.MakeDir(ctx, id, p)
		}, err
	})
}

// renameFile moves a file or folder: POST {from, to}.
func (s *Server) renameFile(f instanceFront) handler {
	return s.bodyFileOp(f, "rename", http.StatusOK, func(b body) (fileOp, error) {
		var req nodeapi.RenameRequest
		var err error
		if req.From, err = b.filePath("from", true); err == nil {
			req.To, err = b.filePath("to", true)
		}
		return func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.RenameFile(ctx, id, req)
		}, err
	})
}

// deleteFiles removes files and folders: POST {paths}.
func (s *Server) deleteFiles(f instanceFront) handler {
	return s.bodyFileOp(f, "delete", http.StatusOK, func(b body) (fileOp, error) {
		paths, err := b.filePaths("paths")
		return func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.DeleteFiles(ctx, id, paths)
		}, err
	})
}

// compressFiles archives paths into a new .tar.gz: POST {paths, destination}.
func (s *Server) compressFiles(f instanceFront) handler {
	return s.bodyFileOp(f, "compress", http.StatusCreated, func(b body) (fileOp, error) {
		var req nodeapi.CompressRequest
		var err error
		if req.Paths, err = b.filePaths("paths"); err == nil {
			req.Destination, err = b.filePath("destination", true)
		}
		return func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.CompressFiles(ctx, id, req)
		}, err
	})
}

// extractFile unpacks an archive: POST {path, destination}; the
// destination defaults to the instance's folder.
func (s *Server) extractFile(f instanceFront) handler {
	return s.bodyFileOp(f, "extract", http.StatusOK, func(b body) (fileOp, error) {
		var req nodeapi.ExtractRequest
		var err error
		if req.Path, err = b.filePath("path", true); err == nil {
			req.Destination, err = b.filePath("destination", false)
		}
		return func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			return c.ExtractFile(ctx, id, req)
		}, err
	})
}

// diskUsage answers what an instance's data folder holds and its limit.
func (s *Server) diskUsage(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.runFileOp(w, r, f, "", http.StatusOK, func(ctx context.Context, c *nodeapi.Client, id string) (any, error) {
			u, err := c.DiskUsage(ctx, id)
			return diskView{ID: id, DiskUsage: u}, err
		})
	}
}
