// Package metrics is Berth's Prometheus instrumentation: the panel's
// requests, reconciler, nodes and instances, and the node daemon's
// per-instance resource use, each process on a registry of its own,
// served at /metrics on a listener apart from the API (-metrics-listen).
//
// Names follow Prometheus's conventions: a berth_ prefix, base units
// (seconds, bytes), _total on counters. The panel's series are bounded
// whatever the size of the fleet: requests are labelled by route pattern,
// never path, and nodes and instances are counted by status and state.
// Only a node labels series by instance, and only its own instances.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry of its own for one process, with the Go
// runtime's and the process's collectors: never the global default, which
// any imported library may fill.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Timeouts of the metrics server. A scrape reads memory, and the panel's
// a cached count, so answers are quick; the limits only keep idle or slow
// clients from holding connections.
const (
	readHeaderTimeout = 10 * time.Second
	writeTimeout      = 30 * time.Second
	shutdownTimeout   = 5 * time.Second
)

// Serve answers GET /metrics from reg on ln until ctx ends. A collector
// that fails leaves its series out of the answer and is logged; the
// others are still served.
func Serve(ctx context.Context, ln net.Listener, reg *prometheus.Registry, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		// A few scrapes at once are plenty; more are answered 503
		// rather than left to pile up on the collectors.
		MaxRequestsInFlight: 4,
	}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      writeTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		<-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
