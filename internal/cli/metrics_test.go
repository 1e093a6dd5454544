package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

// freeAddr returns a loopback address nothing listens on, for a flag
// that takes an address rather than a listener.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestUpServesPanelAndNodeMetricsOnTheGivenAddress: `berth up
// -metrics-listen ADDR` serves /metrics at ADDR, apart from the API, with
// the panel's series and the local node's in one scrape, until it stops.
func TestUpServesPanelAndNodeMetricsOnTheGivenAddress(t *testing.T) {
	metricsAddr, panelAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	done := make(chan error, 1)
	inMemory := func(context.Context, string, *slog.Logger) (runtime.Runtime, func() error, error) {
		return fake.New(), func() error { return nil }, nil
	}
	go func() {
		done <- up(ctx, []string{"-data", t.TempDir(), "-listen", panelAddr, "-node-listen", freeAddr(t),
			"-metrics-listen", metricsAddr}, &stdout, slog.New(slog.DiscardHandler), inMemory)
	}()

	// The reconciler finds the local node online within a pass or two,
	// and the counts are cached a few seconds: poll until the scrape says
	// so.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("berth up ended before serving metrics: %v", err)
		default:
		}
		fams = scrapeOnce("http://" + metricsAddr + "/metrics")
		if online(fams) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape of %s showed the local node online; last: %d families", metricsAddr, len(fams))
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + panelAddr + "/healthz")
	if err != nil {
		t.Fatalf("panel: %v", err)
	}
	resp.Body.Close()
	fams = scrapeOnce("http://" + metricsAddr + "/metrics")
	for _, name := range []string{"berth_http_requests_total", "berth_reconcile_passes_total", "berth_instances",
		"berth_node_instances", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("the scrape lacks %s", name)
		}
	}
	healthz := false
	for _, m := range fams["berth_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			healthz = healthz || (l.GetName() == "route" && l.GetValue() == "GET /healthz")
		}
	}
	if !healthz {
		t.Error("the panel's GET /healthz is not counted in berth_http_requests_total")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("berth up: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("berth up did not stop")
	}
	if _, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Error("metrics still served after berth up stopped")
	}
}

// scrapeOnce fetches and parses url; nil when it does not answer yet.
func scrapeOnce(url string) map[string]*dto.MetricFamily {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil
	}
	return fams
}

// online is berth_nodes{status="online"}, or -1 when absent.
func online(fams map[string]*dto.MetricFamily) float64 {
	for _, m := range fams["berth_nodes"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "status" && l.GetValue() == "online" {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}
