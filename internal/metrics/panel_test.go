package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// testPanel is a panel with its metrics, its reconciler running against
// one node that does not answer, and instances on that node.
type testPanel struct {
	api, metrics string
	key          string
	instances    []string
}

// startPanel serves a panel and its metrics until the test ends. Its node
// is configured but unreachable, and its first instance's install is
// overdue, so that the reconciler counts health errors and fails it.
func startPanel(t *testing.T, instances int) testPanel {
	t.Helper()
	ctx := t.Context()
	st := storetest.NewSQLite(t)(t)
	p := testPanel{key: secret.NewToken("berth_")}
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "k", Name: "test", KeyHash: secret.Hash(p.key), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "$argon2id$x",
		CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	configureKey := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: "n", Name: "n", RAMMiB: 1 << 20, DiskMiB: 1 << 20, Address: "127.0.0.1",
		Port: closedPort(t), Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: time.Now()},
		secret.Hash(configureKey), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConfigureNode(ctx, secret.Hash(configureKey), secret.NewToken("berth_node_"), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := range instances {
		id := fmt.Sprintf("metricsinst%04d", i)
		bs, err := ports.Parse(fmt.Sprint(30000 + i))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Hour)
		if i == 0 {
			deadline = time.Now().Add(-time.Minute)
		}
		now := time.Now()
		if err := st.CreateInstance(ctx, store.Instance{ID: id, Name: id, UserID: "u", NodeID: "n", Image: "example/game:1",
			MemoryMiB: 256, CPU: 1, DiskMiB: 1024, Ports: bs, Primary: bs[0], PrimaryRaw: fmt.Sprint(bs[0].Host),
			Variables: map[string]string{}, InternalState: store.StateInstalling, Status: "offline", Desired: "running",
			Generation: 1, InstallDeadline: deadline, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		p.instances = append(p.instances, id)
	}

	rec := reconcile.New(reconcile.Config{Store: st, Interval: 20 * time.Millisecond, HealthTimeout: time.Second})
	recCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { rec.Run(recCtx) })
	t.Cleanup(func() { stop(); wg.Wait() })

	reg := NewRegistry()
	// A clock a cache period ahead at every reading: each scrape reads
	// the database, so that polling sees the reconciler's writes.
	var ticks atomic.Int64
	observe := RegisterPanel(reg, PanelSource{Store: st, Reconciler: rec.Stats, Now: func() time.Time {
		return time.Now().Add(time.Duration(ticks.Add(1)) * CountsTTL)
	}})
	api := httptest.NewServer(panel.New(panel.Config{Store: st, ObserveRequest: observe}).Handler())
	t.Cleanup(api.Close)
	p.api, p.metrics = api.URL, serve(t, reg)
	return p
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// call sends one request to the panel's API with its admin key and
// returns the status.
func (p testPanel) call(t *testing.T, method, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, p.api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPanelMetricsCountRequestsNodesInstancesAndTheReconciler: after a few
// API calls the panel's scrape holds their counts and latencies by route
// pattern and status; the nodes by health, the instances by state, and
// the reconciler's workers, queue, errors and failed installs, each with
// its type.
func TestPanelMetricsCountRequestsNodesInstancesAndTheReconciler(t *testing.T) {
	p := startPanel(t, 2)
	if code := p.call(t, "GET", "/api/users"); code != http.StatusOK {
		t.Fatalf("GET /api/users: %d", code)
	}
	p.call(t, "GET", "/api/users")
	logsCode := p.call(t, "GET", "/api/instances/logs/"+p.instances[1])
	if code := p.call(t, "GET", "/api/no-such-thing"); code != http.StatusNotFound {
		t.Fatalf("GET /api/no-such-thing: %d", code)
	}

	fams := waitFor(t, p.metrics, "the node offline and the overdue install failed", func(f map[string]*dto.MetricFamily) bool {
		offline, _ := sample(f, "berth_nodes", map[string]string{"status": "offline"})
		failed, _ := sample(f, "berth_instances", map[string]string{"state": "failed"})
		return offline == 1 && failed == 1
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		typ    dto.MetricType
		want   float64
	}{
		{"berth_http_requests_total", map[string]string{"route": "GET /api/users", "code": "200"}, dto.MetricType_COUNTER, 2},
		{"berth_http_request_duration_seconds", map[string]string{"route": "GET /api/users"}, dto.MetricType_HISTOGRAM, 2},
		{"berth_http_requests_total", map[string]string{"route": "GET /api/instances/logs/{id}", "code": fmt.Sprint(logsCode)},
			dto.MetricType_COUNTER, 1},
		{"berth_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}, dto.MetricType_COUNTER, 1},
		{"berth_nodes", map[string]string{"status": "online"}, dto.MetricType_GAUGE, 0},
		{"berth_nodes", map[string]string{"status": "unconfigured"}, dto.MetricType_GAUGE, 0},
		{"berth_instances", map[string]string{"state": "installing"}, dto.MetricType_GAUGE, 1},
		{"berth_instances", map[string]string{"state": "ready"}, dto.MetricType_GAUGE, 0},
		{"berth_reconcile_workers", nil, dto.MetricType_GAUGE, 1},
		{"berth_install_failures_total", nil, dto.MetricType_COUNTER, 1},
	} {
		if got := typeOf(fams, c.name); got != c.typ {
			t.Errorf("%s has type %v, want %v", c.name, got, c.typ)
		}
		if v, ok := sample(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, _ := sample(fams, "berth_reconcile_errors_total", map[string]string{"stage": "health"}); v < 1 {
		t.Errorf("berth_reconcile_errors_total{stage=health} = %v, want the unreachable node's failures", v)
	}
	for _, stage := range reconcile.ErrorStages {
		if _, ok := sample(fams, "berth_reconcile_errors_total", map[string]string{"stage": stage}); !ok {
			t.Errorf("no berth_reconcile_errors_total{stage=%q}", stage)
		}
	}
	for _, name := range []string{"berth_reconcile_queue_depth", "berth_reconcile_passes_total", "go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestPanelMetricsHaveNoPerInstanceSeries: whatever the number of
// instances, and with requests naming them, no series of the panel is
// labelled by an instance: routes are patterns, not paths.
func TestPanelMetricsHaveNoPerInstanceSeries(t *testing.T) {
	p := startPanel(t, 5)
	for _, id := range p.instances {
		p.call(t, "GET", "/api/instances/logs/"+id)
		p.call(t, "POST", "/api/instances/suspend/"+id)
	}
	fams := scrape(t, p.metrics)
	series := 0
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			series++
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetName(), "instance") {
					t.Errorf("%s has an instance label %s=%q", name, l.GetName(), l.GetValue())
				}
				for _, id := range p.instances {
					if strings.Contains(l.GetValue(), id) {
						t.Errorf("%s has label %s=%q, naming instance %s", name, l.GetName(), l.GetValue(), id)
					}
				}
			}
		}
	}
	if v, ok := sample(fams, "berth_http_requests_total", map[string]string{"route": "POST /api/instances/suspend/{id}"}); !ok || v == 0 {
		t.Errorf("no requests counted under the pattern POST /api/instances/suspend/{id} among %d series", series)
	}
}

// countingStore counts the queries of the panel's gauges.
type countingStore struct{ nodes, instances atomic.Int64 }

func (c *countingStore) CountNodesByStatus(context.Context) (map[string]int64, error) {
	c.nodes.Add(1)
	return map[string]int64{store.NodeOnline: 3}, nil
}

func (c *countingStore) CountInstancesByState(context.Context) (map[string]int64, error) {
	c.instances.Add(1)
	return map[string]int64{store.StateReady: 7, "PAUSED": 1}, nil
}

// TestPanelCountsAreCachedAgainstAScrapeStorm: many scrapes at once query
// the database once, and again only after CountsTTL; a state the panel
// does not know is reported all the same.
func TestPanelCountsAreCachedAgainstAScrapeStorm(t *testing.T) {
	cs := &countingStore{}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reg := NewRegistry()
	RegisterPanel(reg, PanelSource{Store: cs, Now: clock})
	url := serve(t, reg)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				resp, err := http.Get(url)
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	fams := scrape(t, url)
	if cs.nodes.Load() != 1 || cs.instances.Load() != 1 {
		t.Errorf("21 scrapes within the cache period ran %d node and %d instance queries, want 1 each",
			cs.nodes.Load(), cs.instances.Load())
	}
	if v, _ := sample(fams, "berth_instances", map[string]string{"state": "paused"}); v != 1 {
		t.Errorf("berth_instances{state=paused} = %v, want 1", v)
	}
	mu.Lock()
	now = now.Add(CountsTTL)
	mu.Unlock()
	scrape(t, url)
	if cs.nodes.Load() != 2 {
		t.Errorf("a scrape after the cache period ran %d node queries in all, want 2", cs.nodes.Load())
	}
}
