package download

import (
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// fileServer is an HTTPS server on loopback serving files by path, with a
// few special paths: /redirect-http, /redirect-https, /flaky (503 once).
type fileServer struct {
	srv   *httptest.Server
	roots *x509.CertPool
	flaky atomic.Int32
}

func newFileServer(t *testing.T, files map[string]string) *fileServer {
	t.Helper()
	fs := &fileServer{}
	fs.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect-http":
			http.Redirect(w, r, "http://"+r.Host+"/a.txt", http.StatusFound)
			return
		case "/redirect-https":
			http.Redirect(w, r, "/a.txt", http.StatusFound)
			return
		case "/flaky":
			if fs.flaky.Add(1) == 1 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("steady"))
			return
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	// The refused handshakes of an untrusted certificate are expected.
	fs.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	fs.srv.StartTLS()
	t.Cleanup(fs.srv.Close)
	fs.roots = x509.NewCertPool()
	fs.roots.AddCert(fs.srv.Certificate())
	return fs
}

func (fs *fileServer) url(p string) string { return fs.srv.URL + p }

// downloadInto runs dl over a fresh folder and returns the folder and the
// error of the first failing download.
func downloadInto(t *testing.T, cfg Config, list ...nodeapi.Download) (string, error) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	dl := newDownloader(cfg)
	dl.retryWait = time.Millisecond
	defer dl.close()
	budget := dl.maxTotal
	for _, item := range list {
		n, err := dl.fetch(t.Context(), root, item, budget)
		if err != nil {
			return dir, err
		}
		budget -= n
	}
	return dir, nil
}

// expectFile fails unless dir holds name with content.
func expectFile(t *testing.T, dir, name, content string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || string(b) != content {
		t.Errorf("%s = %q, %v; want %q", name, b, err, content)
	}
}

// expectEmpty fails unless dir holds nothing: no file, no temporary left.
func expectEmpty(t *testing.T, dir string) {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("refused download left files: %q", found)
	}
}

func TestDownloadFetchesIntoDataFolderWhenPrivateAddressesAreAllowed(t *testing.T) {
	fs := newFileServer(t, map[string]string{"/a.txt": "alpha", "/b.bin": "bravo"})
	cfg := Config{AllowPrivate: true, RootCAs: fs.roots}
	dir, err := downloadInto(t, cfg,
		nodeapi.Download{URL: fs.url("/a.txt"), Path: "a.txt"},
		nodeapi.Download{URL: fs.url("/b.bin") + "?token=secret", Path: "plugins/deep/b.bin"},
		nodeapi.Download{URL: fs.url("/redirect-https"), Path: "redirected.txt"},
		nodeapi.Download{URL: fs.url("/flaky"), Path: "flaky.txt"},
	)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	expectFile(t, dir, "a.txt", "alpha")
	expectFile(t, dir, "plugins/deep/b.bin", "bravo")
	expectFile(t, dir, "redirected.txt", "alpha")
	expectFile(t, dir, "flaky.txt", "steady")
	// A second install replaces the file rather than failing.
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	dl := newDownloader(cfg)
	defer dl.close()
	if _, err := dl.fetch(t.Context(), root, nodeapi.Download{URL: fs.url("/b.bin"), Path: "a.txt"}, 1<<20); err != nil {
		t.Fatalf("download over an existing file: %v", err)
	}
	expectFile(t, dir, "a.txt", "bravo")
}

func TestDownloadRefusals(t *testing.T) {
	fs := newFileServer(t, map[string]string{"/a.txt": "alpha", "/big": strings.Repeat("x", 11), "/eight": "12345678"})
	allow := Config{AllowPrivate: true, RootCAs: fs.roots}
	u, err := url.Parse(fs.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	portText := u.Port()
	for _, tc := range []struct {
		name  string
		cfg   Config
		list  []nodeapi.Download
		words []string
	}{
		{"loopback when private addresses are not allowed", Config{RootCAs: fs.roots},
			[]nodeapi.Download{{URL: fs.url("/a.txt"), Path: "a.txt"}}, []string{"127.0.0.1", "not a public address"}},
		// The check is on the address dialed, after resolution: a name
		// that resolves to loopback is refused as loopback is.
		{"a name resolving to loopback", Config{RootCAs: fs.roots},
			[]nodeapi.Download{{URL: "https://localhost:" + portText + "/a.txt", Path: "a.txt"}}, []string{"not a public address"}},
		{"plain http", allow,
			[]nodeapi.Download{{URL: "http://127.0.0.1:" + portText + "/a.txt", Path: "a.txt"}}, []string{"not an https URL"}},
		{"a redirect to plain http", allow,
			[]nodeapi.Download{{URL: fs.url("/redirect-http"), Path: "a.txt"}}, []string{"not an https URL"}},
		{"endless redirects", allow,
			[]nodeapi.Download{{URL: fs.url("/loop"), Path: "a.txt"}}, []string{"redirects"}},
		{"a file over the per-file cap", Config{AllowPrivate: true, RootCAs: fs.roots, MaxFileBytes: 10},
			[]nodeapi.Download{{URL: fs.url("/big"), Path: "big"}}, []string{"10-byte cap on one download"}},
		{"files over the per-install cap", Config{AllowPrivate: true, RootCAs: fs.roots, MaxTotalBytes: 12},
			[]nodeapi.Download{{URL: fs.url("/eight"), Path: "one"}, {URL: fs.url("/eight"), Path: "two"}},
			[]string{"12-byte cap on one install"}},
		{"an untrusted certificate", Config{AllowPrivate: true},
			[]nodeapi.Download{{URL: fs.url("/a.txt"), Path: "a.txt"}}, []string{"certificate"}},
		{"a missing file", allow,
			[]nodeapi.Download{{URL: fs.url("/none"), Path: "a.txt"}}, []string{"404"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := downloadInto(t, tc.cfg, tc.list...)
			if err == nil {
				t.Fatal("download succeeded")
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if len(tc.list) == 1 {
				expectEmpty(t, dir)
			} else if _, err := os.Stat(filepath.Join(dir, "two")); err == nil {
				t.Error("the download over the install cap was kept")
			}
		})
	}
}

func TestRefusedAddressIsNotRetried(t *testing.T) {
	fs := newFileServer(t, map[string]string{"/a.txt": "alpha"})
	var hits atomic.Int32
	inner := fs.srv.Config.Handler
	fs.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		inner.ServeHTTP(w, r)
	})
	start := time.Now()
	_, err := downloadInto(t, Config{RootCAs: fs.roots}, nodeapi.Download{URL: fs.url("/a.txt"), Path: "a.txt"})
	if !errors.Is(err, errDownloadRefused) {
		t.Errorf("error = %v, want a refusal", err)
	}
	if hits.Load() != 0 {
		t.Errorf("server was reached %d times", hits.Load())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("refusal took %s", took)
	}
}
