package dockertest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moby/moby/client"
)

// Registry is an image registry that holds nothing, on a loopback port of
// the test's own: every request is answered 404 with the error a registry
// sends for an unknown repository. An image on it is missing without the
// engine asking Docker Hub, or any address the test does not own, about
// it. A node refuses registries on loopback unless it allows private
// registries; a node that does has the engine ask this one, and fail.
type Registry struct {
	host        string
	connections atomic.Int64
}

// NewRegistry starts an empty registry until the test ends. cli is the
// test's engine: the registry is on the engine's own loopback only when
// the engine runs on this machine, so another engine skips the test (or
// fails it, with BERTH_REQUIRE_DOCKER=1) rather than send its pulls to an
// address the test does not own.
func NewRegistry(t testing.TB, cli *client.Client) *Registry {
	t.Helper()
	if !strings.HasPrefix(cli.DaemonHost(), "unix://") {
		unavailable(t, "docker: engine at %s may not share this machine's loopback", cli.DaemonHost())
	}
	r := &Registry{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
	}))
	// Connections are counted, not requests: the engine tries HTTPS
	// first, which never makes a request of this plain HTTP server.
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			r.connections.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	r.host = srv.Listener.Addr().String()
	return r
}

// Image returns the reference of image name (such as "berth-test/missing:1")
// on the registry, which does not have it.
func (r *Registry) Image(name string) string { return r.host + "/" + name }

// Connections returns how many connections the registry has taken.
func (r *Registry) Connections() int { return int(r.connections.Load()) }
