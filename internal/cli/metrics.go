package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/metrics"
)

// metricsRegistry returns the process's registry when -metrics-listen
// names an address, and nil when metrics are off.
func metricsRegistry(addr string) *prometheus.Registry {
	if addr == "" {
		return nil
	}
	return metrics.NewRegistry()
}

// serveMetrics serves reg at addr's /metrics until stop is called, or ctx
// ends; stop returns once it has stopped. With a nil reg it serves
// nothing. The listener is opened before it returns, so that a taken
// address fails the start.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (stop func() error, err error) {
	if reg == nil {
		return func() error { return nil }, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics-listen: %w", err)
	}
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, ln, reg, log) }()
	return func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		return nil
	}, nil
}
