package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// TestClientAndDaemonAgree drives the daemon through nodeapi.Client, the
// way the panel does, so the two sides of the protocol cannot drift.
func TestClientAndDaemonAgree(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	c := nodeapi.NewClient(srv.URL, testToken, nil)
	defer c.CloseIdleConnections()
	ctx := context.Background()

	spec := validSpec("e2e")
	st, err := c.EnsureInstance(ctx, spec)
	if err != nil || !st.Running || st.Generation != 1 {
		t.Fatalf("ensure: %+v %v", st, err)
	}
	if st, err = c.GetInstance(ctx, "e2e"); err != nil || st.Status != nodeapi.StatusRunning {
		t.Fatalf("get: %+v %v", st, err)
	}
	if list, err := c.ListInstances(ctx); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if h, err := c.Health(ctx); err != nil || !h.Docker || h.Instances != 1 {
		t.Fatalf("health: %+v %v", h, err)
	}
	if lines, err := c.Logs(ctx, "e2e", 10); err != nil || lines == nil {
		t.Fatalf("logs: %q %v", lines, err)
	}

	spec.Suspended = true
	spec.Generation = 2
	if st, err = c.EnsureInstance(ctx, spec); err != nil || st.Running || !st.Suspended {
		t.Fatalf("suspend: %+v %v", st, err)
	}
	if _, err := c.RequestPower(ctx, "e2e", nodeapi.PowerRequest{Action: nodeapi.ActionStart}); !nodeapi.IsConflict(err) {
		t.Fatalf("start while suspended: %v", err)
	}
	if _, err := c.RequestPower(ctx, "e2e", nodeapi.PowerRequest{Action: "dance"}); err == nil {
		t.Fatal("unknown action accepted")
	}

	rt.FailImage(missingImage)
	bad := validSpec("bad")
	bad.Image = missingImage
	if _, err := c.EnsureInstance(ctx, bad); !nodeapi.IsImageError(err) {
		t.Fatalf("missing image: %v", err)
	}

	for range 2 {
		if err := c.RemoveInstance(ctx, "e2e"); err != nil {
			t.Fatalf("remove: %v", err)
		}
	}
	if _, err := c.GetInstance(ctx, "e2e"); !nodeapi.IsNotFound(err) {
		t.Fatalf("get after remove: %v", err)
	}

	wrong := nodeapi.NewClient(srv.URL, "not-"+testToken, nil)
	defer wrong.CloseIdleConnections()
	if _, err := wrong.Health(ctx); err == nil {
		t.Fatal("wrong token accepted")
	}
}

// FuzzEnsureBody sends arbitrary bodies to PUT /v1/instances/{id}: the
// node answers each with a client error or success, never a 5xx, and a
// rejected body never reaches the runtime.
func FuzzEnsureBody(f *testing.F) {
	f.Add(`{"id":"abc","image":"x","memoryMiB":1,"cpu":1,"ports":[{"container":1,"host":1}],"primaryPort":1,"desired":"running"}`)
	f.Add(`{"id":"abc","ports":[{"host":-1}]}`)
	f.Add(`{"id":"abc","env":{"A=":"b"}}`)
	f.Add(`[1,2]`)
	f.Add(`{"cpu":1e400}`)
	rt := fake.New()
	d, err := New(Config{Dir: f.TempDir(), TokenSHA256: secret.Hash(testToken)}, rt, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := rt.Calls("Ensure")
		w := call(t, d, http.MethodPut, "/v1/instances/abc", body)
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if rt.Calls("Ensure") != before {
				t.Fatalf("rejected body %q reached the runtime", body)
			}
		default:
			t.Fatalf("body %q: status %d %s", body, w.Code, w.Body)
		}
	})
}
