package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// BenchmarkPanelRequest is what counting a request costs the panel: GET
// /healthz (a database ping) with no observer, the baseline, and with the
// metrics' observer.
func BenchmarkPanelRequest(b *testing.B) {
	st := storetest.NewSQLite(b)(b)
	for _, c := range []struct {
		name    string
		observe httplog.Observer
	}{
		{"baseline", nil},
		{"observed", RegisterPanel(NewRegistry(), PanelSource{Store: st})},
	} {
		h := panel.New(panel.Config{Store: st, ObserveRequest: c.observe}).Handler()
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
				if w.Code != http.StatusOK {
					b.Fatalf("healthz: %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkNodeScrape is one scrape of a node's metrics, encoded as
// Prometheus reads it, with 10 instances (the baseline) and 1000.
func BenchmarkNodeScrape(b *testing.B) {
	for _, n := range []int{10, 1000} {
		usage := make([]node.InstanceUsage, n)
		for i := range usage {
			usage[i] = node.InstanceUsage{ID: fmt.Sprintf("instance%06d", i), Running: true, DiskLimitBytes: 1 << 30,
				Stats: nodeapi.Stats{CPUPercent: 12.5, MemoryBytes: 1 << 28, MemoryLimitBytes: 1 << 30, RxBytes: 1 << 20,
					TxBytes: 1 << 21, DiskBytes: 1 << 29}}
		}
		reg := NewRegistry()
		RegisterNode(reg, NodeSource{Usage: func() []node.InstanceUsage { return usage }})
		h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
				io.Copy(io.Discard, w.Body)
			}
		})
	}
}
