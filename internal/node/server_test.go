package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

func TestRequestsWithoutValidTokenAreRejected(t *testing.T) {
	cases := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"basic auth", "Basic U2t5cG9ydDprZXk="},
		{"wrong token", "Bearer not-the-token"},
		{"empty bearer", "Bearer "},
		{"token without scheme", testToken},
		{"token prefix", "Bearer " + testToken[:len(testToken)-1]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := fake.New()
			d := newTestDaemon(t, rt)
			rt.ResetCalls()
			for _, req := range []struct{ method, path string }{
				{http.MethodPut, "/v1/instances/abc"},
				{http.MethodGet, "/v1/health"},
				{http.MethodGet, "/v1/no-such-path"},
				{http.MethodDelete, "/v1/instances/abc"},
			} {
				r := httptest.NewRequest(req.method, req.path, strings.NewReader(`{"id":"abc","image":"x","memoryMiB":1,"cpu":1,"ports":[{"container":1,"host":1}],"primaryPort":1,"desired":"running"}`))
				if tc.header != "" {
					r.Header.Set("Authorization", tc.header)
				}
				w := httptest.NewRecorder()
				d.Handler().ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("%s %s: status %d, want 401", req.method, req.path, w.Code)
				}
				errorText(t, w)
				if w.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: no WWW-Authenticate header", req.method, req.path)
				}
			}
			for _, m := range []string{"Ensure", "Start", "Stop", "Remove", "List", "Inspect"} {
				if n := rt.Calls(m); n != 0 {
					t.Errorf("runtime saw %d %s calls from unauthenticated requests", n, m)
				}
			}
			if _, err := os.Stat(filepath.Join(d.cfg.Dir, "volumes", "abc")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("volume folder exists after rejected request: %v", err)
			}
		})
	}
}

func TestValidTokenIsAccepted(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	w := callWithToken(t, d, http.MethodGet, "/v1/health", nil, testToken)
	if w.Code != http.StatusOK {
		t.Fatalf("health: %d %s", w.Code, w.Body)
	}
	// The scheme is case-insensitive.
	r := httptest.NewRequest(http.MethodGet, "/v1/health", nil)
	r.Header.Set("Authorization", "bearer "+testToken)
	w = httptest.NewRecorder()
	d.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("lower-case scheme: %d %s", w.Code, w.Body)
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	for _, p := range []string{"/", "/v1", "/v2/health", "/v1/instances/abc/files"} {
		w := call(t, d, http.MethodGet, p, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
		errorText(t, w)
	}
}

func TestWrongMethodIsJSON405(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	w := call(t, d, http.MethodPost, "/v1/health", nil)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /v1/health: %d, want 405", w.Code)
	}
	if msg := errorText(t, w); msg != "method not allowed" {
		t.Errorf("error = %q", msg)
	}
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q, want GET listed", allow)
	}
	w = call(t, d, http.MethodPatch, "/v1/instances/abc", nil)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH instance: %d, want 405", w.Code)
	}
}

func TestPanicIsA500WithoutInternals(t *testing.T) {
	rt := fake.New()
	var logs bytes.Buffer
	d := newTestDaemonIn(t, rt, t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
	rt.SetHook(func(method, _ string) {
		if method == "List" {
			panic("fake: secret internal detail")
		}
	})

	w := call(t, d, http.MethodGet, "/v1/instances", nil)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	if msg := errorText(t, w); msg != "internal error" {
		t.Errorf("error = %q, want %q", msg, "internal error")
	}
	if strings.Contains(w.Body.String(), "secret") {
		t.Errorf("500 body leaks the panic: %s", w.Body)
	}
	reqID := w.Header().Get("X-Request-Id")
	if reqID == "" || !strings.Contains(logs.String(), reqID) || !strings.Contains(logs.String(), "secret internal detail") {
		t.Errorf("panic not logged under request id %q:\n%s", reqID, logs.String())
	}
}

func TestRequestLogLineHasNoToken(t *testing.T) {
	var logs bytes.Buffer
	d := newTestDaemonIn(t, fake.New(), t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
	ensureOK(t, d, validSpec("logged"))
	call(t, d, http.MethodGet, "/v1/instances/logged?tail=3", nil)
	callWithToken(t, d, http.MethodGet, "/v1/health", nil, "wrong-"+testToken)

	out := logs.String()
	if strings.Contains(out, testToken) {
		t.Fatalf("log contains the token:\n%s", out)
	}
	for _, want := range []string{"method=PUT path=/v1/instances/logged status=200", "method=GET path=/v1/health status=401", "duration="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	rt := fake.New()
	good := Config{Dir: t.TempDir(), TokenSHA256: secret.Hash(testToken)}
	cases := map[string]func(*Config){
		"no dir":           func(c *Config) { c.Dir = "" },
		"hash not hex":     func(c *Config) { c.TokenSHA256 = strings.Repeat("z", 64) },
		"hash too short":   func(c *Config) { c.TokenSHA256 = "abcd" },
		"raw token":        func(c *Config) { c.TokenSHA256 = testToken },
		"cert without key": func(c *Config) { c.TLSCert = "cert.pem" },
		"key without cert": func(c *Config) { c.TLSKey = "key.pem" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mutate(&cfg)
			if _, err := New(cfg, rt, nil); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
	if _, err := New(good, nil, nil); err == nil {
		t.Error("New accepted a nil runtime")
	}
}

func TestServeAnswersOverTLSAndShutsDownOnCancel(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	d, err := New(Config{Dir: dir, TokenSHA256: secret.Hash(testToken), TLSCert: certFile, TLSKey: keyFile, Version: "v-tls"}, fake.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveInBackground(t, d)
	base := "https://" + addr
	c := nodeapi.NewClient(base, testToken, &tls.Config{RootCAs: pool})
	h, err := c.Health(context.Background())
	if err != nil {
		t.Fatalf("health over TLS: %v", err)
	}
	if h.Version != "v-tls" || !h.Docker {
		t.Errorf("health = %+v", h)
	}

	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	resp, err := old.Get(base + "/v1/health")
	if err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 client failed for another reason: %v", err)
	}
	plain := nodeapi.NewClient("http://"+addr, testToken, nil)
	if _, err := plain.Health(context.Background()); err == nil {
		t.Error("plain HTTP was served on the TLS port")
	}

	// An idle HTTP/2 connection would hold Shutdown for its GOAWAY grace.
	c.CloseIdleConnections()
	if err := stop(); err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
}

func TestServeLetsInFlightRequestsFinishOnShutdown(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("busy"))

	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	rt.SetHook(func(method, id string) {
		if method == "Stop" {
			once.Do(func() { close(entered) })
			<-release
		}
	})

	addr, stop := serveInBackground(t, d)
	c := nodeapi.NewClient("http://"+addr, testToken, nil)
	type result struct {
		st  nodeapi.InstanceStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := c.RequestPower(context.Background(), "busy", nodeapi.PowerRequest{Action: nodeapi.ActionStop})
		done <- result{st, err}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown has begun once the listener refuses new connections; only
	// then may the in-flight stop finish.
	waitFor(t, "shutdown to close the listener", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	close(release)

	res := <-done
	if res.err != nil {
		t.Fatalf("in-flight stop failed during shutdown: %v", res.err)
	}
	if res.st.Status != nodeapi.StatusStopped {
		t.Errorf("status = %q, want stopped", res.st.Status)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestServeFailsFastOnBadCertificate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Dir: dir, TokenSHA256: secret.Hash(testToken), TLSCert: bad, TLSKey: bad}, fake.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Serve(ctx, ln); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("Serve with a bad certificate: %v", err)
	}
}

// serveInBackground runs d.Serve on a free local port and returns its
// address and the function that cancels it and returns what Serve did.
func serveInBackground(t *testing.T, d *Daemon) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, ln) }()
	return ln.Addr().String(), func() error {
		cancel()
		return <-served
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns
// its files and a pool that trusts it.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "berth test node"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestRunNeedsAListenAddress(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	if err := d.Run(context.Background()); err == nil {
		t.Error("Run without a listen address succeeded")
	}
}
