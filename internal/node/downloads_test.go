package node

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// fileServer is an HTTPS server on loopback serving files by path.
type fileServer struct {
	srv   *httptest.Server
	roots *x509.CertPool
}

func newFileServer(t *testing.T, files map[string]string) *fileServer {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return &fileServer{srv: srv, roots: roots}
}

func (fs *fileServer) url(p string) string { return fs.srv.URL + p }

// newDownloadDaemon is a daemon over rt whose downloads trust fs.
func newDownloadDaemon(t *testing.T, rt *fake.Runtime, fs *fileServer, allowPrivate bool) *Daemon {
	t.Helper()
	d, err := New(Config{Dir: t.TempDir(), TokenSHA256: secret.Hash(testToken), Version: "test",
		Install: InstallConfig{AllowPrivateDownloads: allowPrivate, RootCAs: fs.roots}}, rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return closeDaemon(t, d)
}

func TestEnsureDownloadsBeforeTheScriptAndLogsThem(t *testing.T) {
	fs := newFileServer(t, map[string]string{"/server.jar": "jar bytes"})
	rt := fake.New()
	d := newDownloadDaemon(t, rt, fs, true)
	var sawJar atomic.Bool
	rt.SetInstall(func(_ context.Context, job runtime.InstallJob, _ io.Writer) (int, error) {
		b, err := os.ReadFile(filepath.Join(job.DataDir, "server.jar"))
		sawJar.Store(err == nil && string(b) == "jar bytes")
		return 0, nil
	})
	spec := installSpec("i1")
	spec.Downloads = []nodeapi.Download{{URL: fs.url("/server.jar"), Path: "server.jar"}}
	ensureOK(t, d, spec)
	waitContainerRunning(t, rt, spec.ID, "the container after the install")
	if !sawJar.Load() {
		t.Error("the install script ran before the download was in the data folder")
	}
	log := installLog(t, d, spec.ID, "")
	joined := strings.Join(log.Lines, "\n")
	if !strings.Contains(joined, "downloading "+fs.url("/server.jar")+" to server.jar") || !strings.Contains(joined, "downloaded 9 bytes") {
		t.Errorf("install log does not tell of the download:\n%s", joined)
	}
}

func TestEnsureWithRefusedDownloadFailsTheInstall(t *testing.T) {
	fs := newFileServer(t, map[string]string{"/server.jar": "jar bytes"})
	rt := fake.New()
	d := newDownloadDaemon(t, rt, fs, false)
	spec := validSpec("i1")
	spec.Downloads = []nodeapi.Download{{URL: fs.url("/server.jar") + "?key=hunter2", Path: "server.jar"}}
	ensureOK(t, d, spec)
	var st nodeapi.InstanceStatus
	waitFor(t, "the install to fail", func() bool {
		st = getStatus(t, d, spec.ID)
		return st.InstallError != ""
	})
	if !strings.Contains(st.InstallError, "not a public address") || !strings.Contains(st.InstallError, "/server.jar") {
		t.Errorf("install error = %q, want the refused address and the URL", st.InstallError)
	}
	log := strings.Join(installLog(t, d, spec.ID, "").Lines, "\n")
	if strings.Contains(st.InstallError, "hunter2") || strings.Contains(log, "hunter2") {
		t.Errorf("the URL's query leaked: %q / %q", st.InstallError, log)
	}
	if n := rt.Calls("RunInstall") + rt.Calls("Ensure"); n != 0 {
		t.Errorf("runtime called %d times after a refused download", n)
	}
	if _, err := os.Stat(filepath.Join(d.volumes.Path(spec.ID), "server.jar")); err == nil {
		t.Error("refused download was written")
	}
}
