// Package download is the node's guarded downloader: it fetches the files
// a template's install asks for into an instance's data folder, https
// only, under size caps, and never from a private, loopback or link-local
// address unless the operator allows it.
package download

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"time"

	"github.com/berth-dev/berth/internal/netguard"
	"github.com/berth-dev/berth/internal/node/volumes"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// Downloads are Skyport's Scripts.Install: files a template fetches into
// the data folder before the first start. The URLs come from template
// authors and, through variables, from whoever deploys, so the node holds
// them to rules of its own:
//
//   - https only, redirects included;
//   - a cap on each file and on all of an install's files together;
//   - no private, loopback, link-local or otherwise non-public address,
//     unless the operator allows them. The check is made on the address
//     actually dialed, after DNS resolution, so a name that resolves to a
//     public address for a check and to 127.0.0.1 for the connection (DNS
//     rebinding) gains nothing; and no proxy is used, which would dial on
//     the node's behalf unchecked;
//   - every file is written through os.Root, inside the data folder.

// Timeouts of a download's connection; the transfer itself is bounded by
// the install's timeout.
const (
	downloadDialTimeout   = 30 * time.Second
	downloadHeaderTimeout = time.Minute
	downloadMaxRedirects  = 5
	downloadAttempts      = 3
)

// errDownloadRefused marks a download the node's rules forbid; retrying
// cannot help.
var errDownloadRefused = errors.New("refused")

// downloader fetches an install's files.
type downloader struct {
	client   *http.Client
	maxFile  int64
	maxTotal int64
	// owner, when set, is given each file downloaded. The folders made
	// for them stay root's until the install ends and gives the whole
	// data folder to the container user.
	owner *volumes.Owner
	// retryWait is the pause before the second attempt; it doubles after.
	retryWait time.Duration
}

// Config is what the node's operator decides about downloads.
type Config struct {
	// AllowPrivate lets downloads reach private, loopback, link-local and
	// other non-public addresses. Off by default: a template could
	// otherwise make the node fetch from its own network, the cloud
	// metadata service included.
	AllowPrivate bool
	// MaxFileBytes caps one download; 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
	// MaxTotalBytes caps all the downloads of one install together; 0
	// means DefaultMaxTotalBytes.
	MaxTotalBytes int64
	// RootCAs, when set, are the only certificate authorities downloads
	// trust; nil means the system's.
	RootCAs *x509.CertPool
}

// Defaults of the Config caps left zero.
const (
	DefaultMaxFileBytes  = 1 << 30
	DefaultMaxTotalBytes = 4 << 30
)

// newDownloader returns a downloader following cfg's rules.
func newDownloader(cfg Config) *downloader {
	dialer := &net.Dialer{Timeout: downloadDialTimeout, Control: netguard.DialControl(cfg.AllowPrivate, errDownloadRefused, "BERTH_ALLOW_PRIVATE_DOWNLOADS")}
	transport := &http.Transport{
		// No proxy: a proxy would dial the target itself, past the check.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout:   downloadDialTimeout,
		ResponseHeaderTimeout: downloadHeaderTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &downloader{
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= downloadMaxRedirects {
					return fmt.Errorf("%w: more than %d redirects", errDownloadRefused, downloadMaxRedirects)
				}
				return checkDownloadURL(req.URL)
			},
		},
		maxFile:   orDefault(cfg.MaxFileBytes, DefaultMaxFileBytes),
		maxTotal:  orDefault(cfg.MaxTotalBytes, DefaultMaxTotalBytes),
		retryWait: time.Second,
	}
}

func orDefault(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// close releases the downloader's idle connections.
func (dl *downloader) close() { dl.client.CloseIdleConnections() }

// checkDownloadURL accepts an https URL without credentials.
func checkDownloadURL(u *url.URL) error {
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: %s is not an https URL", errDownloadRefused, u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("%w: URL carries credentials", errDownloadRefused)
	}
	return nil
}

// All fetches list into root (an instance's data folder), in order,
// logging each with logf; it stops at the first failure. owner, when set,
// is given each file downloaded.
func All(ctx context.Context, root *os.Root, list []nodeapi.Download, cfg Config, owner *volumes.Owner, logf func(string, ...any)) error {
	dl := newDownloader(cfg)
	defer dl.close()
	dl.owner = owner
	budget := dl.maxTotal
	for _, item := range list {
		logf("downloading %s to %s", RedactURL(item.URL), item.Path)
		n, err := dl.fetch(ctx, root, item, budget)
		if err != nil {
			return fmt.Errorf("download %s: %w", RedactURL(item.URL), err)
		}
		budget -= n
		logf("downloaded %d bytes to %s", n, item.Path)
	}
	return nil
}

// RedactURL hides a URL's query, which may carry a token, from logs and
// failure reasons.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	u.Fragment = ""
	return u.Redacted()
}

// fetch downloads one file into root, trying again after a network error
// or a server error (5xx, 429). budget is what the install may still
// download; it returns the file's size.
func (dl *downloader) fetch(ctx context.Context, root *os.Root, item nodeapi.Download, budget int64) (int64, error) {
	u, err := url.Parse(item.URL)
	if err != nil {
		return 0, fmt.Errorf("%w: unreadable URL", errDownloadRefused)
	}
	if err := checkDownloadURL(u); err != nil {
		return 0, err
	}
	wait := dl.retryWait
	for attempt := 1; ; attempt++ {
		n, err := dl.fetchOnce(ctx, root, item, u, budget)
		var retry *retryableError
		if err == nil || !errors.As(err, &retry) || attempt == downloadAttempts || ctx.Err() != nil {
			return n, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return 0, ctx.Err()
		case <-timer.C:
		}
		wait *= 2
	}
}

// retryableError marks a failure that another attempt may not meet.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// fetchOnce makes one attempt at item, writing it to a temporary file
// beside its destination and renaming it into place only once it is
// whole, so that no half file is ever left under the expected name.
func (dl *downloader) fetchOnce(ctx context.Context, root *os.Root, item nodeapi.Download, u *url.URL, budget int64) (int64, error) {
	limit := min(dl.maxFile, budget)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "berth-node")
	resp, err := dl.client.Do(req)
	if err != nil {
		// The wrapper repeats the URL, query and all; the caller names it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, errDownloadRefused) || ctx.Err() != nil {
			return 0, err
		}
		return 0, &retryableError{err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return 0, &retryableError{fmt.Errorf("server answered %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("server answered %s", resp.Status)
	case resp.ContentLength > limit:
		return 0, dl.tooLarge(limit)
	}

	dir := path.Dir(item.Path)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create folder %s: %w", dir, err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, ".berth-download-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", item.Path, err)
	}
	if dl.owner != nil {
		if err := f.Chown(dl.owner.UID, dl.owner.GID); err != nil {
			f.Close()
			_ = root.Remove(tmp)
			return 0, fmt.Errorf("write %s: %w", item.Path, err)
		}
	}
	// One byte past the limit tells a file that is too large.
	n, err := io.Copy(f, io.LimitReader(resp.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil && ctx.Err() == nil:
		err = &retryableError{fmt.Errorf("read body: %w", err)}
	case err == nil && n > limit:
		err = dl.tooLarge(limit)
	case err == nil:
		err = root.Rename(tmp, item.Path)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// tooLarge says which cap a download of at most limit bytes broke.
func (dl *downloader) tooLarge(limit int64) error {
	if limit == dl.maxFile {
		return fmt.Errorf("%w: file is larger than the %d-byte cap on one download", errDownloadRefused, dl.maxFile)
	}
	return fmt.Errorf("%w: downloads exceed the %d-byte cap on one install", errDownloadRefused, dl.maxTotal)
}
