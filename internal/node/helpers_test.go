package node

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

const testToken = "berth-test-token-0123456789abcdef0123456789abcdef"

// newTestDaemon returns a daemon over rt in its own data folder.
func newTestDaemon(t *testing.T, rt *fake.Runtime) *Daemon {
	t.Helper()
	return newTestDaemonIn(t, rt, t.TempDir(), nil)
}

func newTestDaemonIn(t *testing.T, rt *fake.Runtime, dir string, logger *slog.Logger) *Daemon {
	t.Helper()
	return newTunedTestDaemon(t, rt, dir, logger, nil)
}

// newTunedTestDaemon is newTestDaemonIn with the configuration changed by
// tune, when set.
func newTunedTestDaemon(t *testing.T, rt *fake.Runtime, dir string, logger *slog.Logger, tune func(*Config)) *Daemon {
	t.Helper()
	cfg := Config{Dir: dir, TokenSHA256: secret.Hash(testToken), Version: "test", StopTimeout: 7 * time.Second}
	if tune != nil {
		tune(&cfg)
	}
	d, err := New(cfg, rt, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// validSpec returns a spec the node accepts.
func validSpec(id string) nodeapi.InstanceSpec {
	return nodeapi.InstanceSpec{
		ID:          id,
		Generation:  1,
		Image:       "example/game:1",
		MemoryMiB:   512,
		CPU:         1.5,
		Ports:       []nodeapi.Port{{Container: 25565, Host: 30001}, {Container: 25575, Host: 30002}},
		Env:         map[string]string{"ZETA": "z", "ALPHA": "a b", "SERVER_PORT": "1"},
		PrimaryPort: 25565,
		Startup:     "java -jar server.jar",
		StopCommand: "stop",
		Desired:     nodeapi.DesiredRunning,
	}
}

// validSpecAt is validSpec publishing host ports host and host+1, for a
// test that runs several instances at once: like Docker, the fake runtime
// refuses to start two containers on one host port.
func validSpecAt(id string, host int) nodeapi.InstanceSpec {
	spec := validSpec(id)
	spec.Ports = []nodeapi.Port{{Container: 25565, Host: host}, {Container: 25575, Host: host + 1}}
	return spec
}

// call sends one authenticated request straight to the daemon's handler.
func call(t *testing.T, d *Daemon, method, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	return callWithToken(t, d, method, path, body, testToken)
}

func callWithToken(t *testing.T, d *Daemon, method, path string, body any, token string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(raw))
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	d.Handler().ServeHTTP(w, req)
	return w
}

// ensureOK PUTs spec and fails the test unless the node accepts it.
func ensureOK(t *testing.T, d *Daemon, spec nodeapi.InstanceSpec) nodeapi.InstanceStatus {
	t.Helper()
	w := call(t, d, http.MethodPut, "/v1/instances/"+spec.ID, spec)
	if w.Code != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", spec.ID, w.Code, w.Body)
	}
	return decode[nodeapi.InstanceStatus](t, w)
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body, err)
	}
	return v
}

// errorText returns the {"error"} of an answer, failing unless it has one.
func errorText(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	body := decode[nodeapi.ErrorBody](t, w)
	if body.Error == "" {
		t.Fatalf("answer %d has no error text: %s", w.Code, w.Body)
	}
	return body.Error
}

func getStatus(t *testing.T, d *Daemon, id string) nodeapi.InstanceStatus {
	t.Helper()
	w := call(t, d, http.MethodGet, "/v1/instances/"+id, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", id, w.Code, w.Body)
	}
	return decode[nodeapi.InstanceStatus](t, w)
}

func power(t *testing.T, d *Daemon, id, action string) *httptest.ResponseRecorder {
	t.Helper()
	return call(t, d, http.MethodPost, "/v1/instances/"+id+"/power", nodeapi.PowerRequest{Action: action})
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// missingImage is an image the fake runtime cannot pull.
const missingImage = "nope/missing:1"

// putWithMissingImage PUTs a spec whose image the runtime cannot get, and
// returns the node's answer.
func putWithMissingImage(t *testing.T, d *Daemon, rt *fake.Runtime, id string) *httptest.ResponseRecorder {
	t.Helper()
	rt.FailImage(missingImage)
	spec := validSpec(id)
	spec.Image = missingImage
	return call(t, d, http.MethodPut, "/v1/instances/"+id, spec)
}
