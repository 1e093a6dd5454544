package nodeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// Timeouts of the file calls, used when the caller's context has none.
// Deleting, compressing and extracting a large folder take as long as the
// disk needs; streams are bounded by their caller's context, and only
// their answer's headers by streamHeaderTimeout.
const (
	fileOpTimeout       = 2 * time.Minute
	archiveTimeout      = 30 * time.Minute
	streamHeaderTimeout = 30 * time.Second
)

// IsInstanceNotFound reports whether err is the node's answer about an
// instance it has no record of, as opposed to a file that is missing.
func IsInstanceNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == fault.NotExist && e.Message == "instance not found"
}

// FileStream is a file on its way from a node. Close it.
type FileStream struct {
	// Status is 200, 206 for a range, or 416 for a range outside the
	// file.
	Status int
	// Header holds the node's Content-Type, Content-Length,
	// Content-Disposition, Content-Range, Last-Modified and the like.
	Header http.Header
	// Body is the file's bytes.
	Body io.ReadCloser
}

// Close ends the stream and releases its connection.
func (s *FileStream) Close() error { return s.Body.Close() }

// filesSuffix is /files<suffix> with path as its query.
func filesSuffix(suffix, path string) string {
	return "/files" + suffix + "?path=" + url.QueryEscape(path)
}

// filesPath is /v1/instances/<id>/files<suffix>?path=<path>.
func filesPath(id, suffix, path string) (string, error) {
	return instancePath(id, filesSuffix(suffix, path))
}

// ListFiles lists the folder at path ("" or "." for the instance's folder).
func (c *Client) ListFiles(ctx context.Context, id, path string) (FileList, error) {
	return callInstance[FileList](ctx, c, readTimeout, http.MethodGet, id, filesSuffix("", path), nil)
}

// FileContent streams the file at path, which must be at most
// MaxFileContentBytes.
func (c *Client) FileContent(ctx context.Context, id, path string) (*FileStream, error) {
	p, err := filesPath(id, "/content", path)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, http.MethodGet, p, nil, nil, -1, true)
}

// DownloadFile streams the file at path. header may carry Range,
// If-Range and If-Modified-Since, which the node honours.
func (c *Client) DownloadFile(ctx context.Context, id, path string, header http.Header) (*FileStream, error) {
	p, err := filesPath(id, "/download", path)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, http.MethodGet, p, header, nil, -1, true)
}

// WriteFileContent replaces the file at path with body, of size bytes
// (-1 when unknown), at most MaxFileContentBytes.
func (c *Client) WriteFileContent(ctx context.Context, id, path string, body io.Reader, size int64) (FileEntry, error) {
	var e FileEntry
	p, err := filesPath(id, "/content", path)
	if err != nil {
		return e, err
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	err = c.sendStream(ctx, http.MethodPut, p, h, body, size, &e)
	return e, err
}

// UploadFiles sends a multipart/form-data body, whose boundary
// contentType names, to be written into the folder at path. body is
// streamed, not buffered.
func (c *Client) UploadFiles(ctx context.Context, id, path, contentType string, body io.Reader, size int64) (UploadResult, error) {
	var res UploadResult
	p, err := filesPath(id, "/upload", path)
	if err != nil {
		return res, err
	}
	err = c.sendStream(ctx, http.MethodPost, p, http.Header{"Content-Type": {contentType}}, body, size, &res)
	return res, err
}

// MakeDir creates the folder at path and its missing parents.
func (c *Client) MakeDir(ctx context.Context, id, path string) (FileEntry, error) {
	return callInstance[FileEntry](ctx, c, fileOpTimeout, http.MethodPost, id, "/files/mkdir", PathRequest{Path: path})
}

// RenameFile moves a file or folder; it never replaces one.
func (c *Client) RenameFile(ctx context.Context, id string, req RenameRequest) (FileEntry, error) {
	return callInstance[FileEntry](ctx, c, fileOpTimeout, http.MethodPost, id, "/files/rename", req)
}

// DeleteFiles removes files and folders, folders with their content.
func (c *Client) DeleteFiles(ctx context.Context, id string, paths []string) (DeleteResult, error) {
	return callInstance[DeleteResult](ctx, c, fileOpTimeout, http.MethodPost, id, "/files/delete", DeleteRequest{Paths: paths})
}

// CompressFiles writes paths into a new .tar.gz file.
func (c *Client) CompressFiles(ctx context.Context, id string, req CompressRequest) (FileEntry, error) {
	return callInstance[FileEntry](ctx, c, archiveTimeout, http.MethodPost, id, "/files/compress", req)
}

// ExtractFile unpacks an archive into a folder.
func (c *Client) ExtractFile(ctx context.Context, id string, req ExtractRequest) (ExtractResult, error) {
	return callInstance[ExtractResult](ctx, c, archiveTimeout, http.MethodPost, id, "/files/extract", req)
}

// DiskUsage reports what the instance's data folder holds and its limit.
func (c *Client) DiskUsage(ctx context.Context, id string) (DiskUsage, error) {
	return callInstance[DiskUsage](ctx, c, readTimeout, http.MethodGet, id, "/disk", nil)
}

// sendStream sends body, then decodes the JSON answer into out. Its only
// bound is ctx: an upload lasts as long as its sender takes.
func (c *Client) sendStream(ctx context.Context, method, path string, header http.Header, body io.Reader, size int64, out any) error {
	s, err := c.stream(ctx, method, path, header, body, size, false)
	if err != nil {
		return err
	}
	defer s.Close()
	return decodeAnswer(method, path, s.Body, out)
}

// stream sends one request and returns the answer's body unread when it
// is a 2xx. With headerTimeout, the node has streamHeaderTimeout to begin
// answering; the body is then bounded only by ctx.
func (c *Client) stream(ctx context.Context, method, path string, header http.Header, body io.Reader, size int64, headerTimeout bool) (*FileStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	var timer *time.Timer
	if headerTimeout {
		timer = time.AfterFunc(streamHeaderTimeout, cancel)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if timer != nil && !timer.Stop() && err == nil {
		// The timer fired as the answer arrived: the context is gone.
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	op := method + " " + path
	if err != nil {
		cancel()
		return nil, noAnswer(op, err)
	}
	// A range outside the file is answered, not failed: the caller relays
	// the answer, whose Content-Range gives the file's size.
	if (resp.StatusCode < 200 || resp.StatusCode > 299) && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		defer cancel()
		defer resp.Body.Close()
		return nil, readError(op, resp)
	}
	return &FileStream{Status: resp.StatusCode, Header: resp.Header, Body: &cancelBody{ReadCloser: resp.Body, cancel: cancel}}, nil
}

// cancelBody releases a stream's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// decodeAnswer decodes a 2xx answer's JSON body into out.
func decodeAnswer(method, path string, body io.Reader, out any) error {
	if err := json.NewDecoder(io.LimitReader(body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}
