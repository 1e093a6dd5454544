package metrics

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/store"
)

// Counter is the part of the store the panel's gauges read: one GROUP BY
// each, cached for CountsTTL.
type Counter interface {
	CountNodesByStatus(ctx context.Context) (map[string]int64, error)
	CountInstancesByState(ctx context.Context) (map[string]int64, error)
}

// CountsTTL is how long the node and instance counts are reused, so that a
// storm of scrapes, or several Prometheus servers, query the database at
// most once in that time.
const CountsTTL = 5 * time.Second

// countsTimeout bounds the counts' queries during a scrape.
const countsTimeout = 5 * time.Second

// PanelSource is what the panel's metrics read.
type PanelSource struct {
	// Store is counted for the nodes by status and instances by state.
	Store Counter
	// Reconciler reports the reconciler's figures; nil leaves them out.
	Reconciler func() reconcile.Stats
	// Now is the clock of the counts' cache; nil means time.Now.
	Now func() time.Time
}

// RegisterPanel registers the panel's metrics on reg and returns the
// observer of its requests, for panel.Config.ObserveRequest.
func RegisterPanel(reg prometheus.Registerer, src PanelSource) httplog.Observer {
	if src.Now == nil {
		src.Now = time.Now
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_http_requests_total",
		Help: "HTTP requests the panel answered, by route pattern (\"unmatched\" for none) and status code.",
	}, []string{"route", "code"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "berth_http_request_duration_seconds",
		Help:    "Time the panel took to answer HTTP requests, by route pattern; a console's is how long it stayed open.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	reg.MustRegister(requests, durations, &panelCollector{src: src})
	return func(pattern string, status int, elapsed time.Duration) {
		if pattern == "" {
			pattern = "unmatched"
		}
		requests.WithLabelValues(pattern, strconv.Itoa(status)).Inc()
		durations.WithLabelValues(pattern).Observe(elapsed.Seconds())
	}
}

// Descriptions of the panel's gauges and the reconciler's figures.
var (
	nodesDesc = prometheus.NewDesc("berth_nodes",
		"Nodes by health, as the reconciler last saw them.", []string{"status"}, nil)
	instancesDesc = prometheus.NewDesc("berth_instances",
		"Instances by state: installing, ready or failed.", []string{"state"}, nil)
	workersDesc = prometheus.NewDesc("berth_reconcile_workers",
		"Nodes this panel's reconciler has a worker for.", nil, nil)
	queueDesc = prometheus.NewDesc("berth_reconcile_queue_depth",
		"Instances found due for an ensure or a removal and not yet done.", nil, nil)
	passesDesc = prometheus.NewDesc("berth_reconcile_passes_total",
		"Visits of the reconciler to its nodes.", nil, nil)
	reconcileErrorsDesc = prometheus.NewDesc("berth_reconcile_errors_total",
		"Reconciler failures by stage: health (node unreachable), ensure, remove, observe (listing a node's instances), store (the database).",
		[]string{"stage"}, nil)
	installFailuresDesc = prometheus.NewDesc("berth_install_failures_total",
		"Deploys failed for good: install script failed, image refused, or install timed out.", nil, nil)
)

// knownStatuses and knownStates are always reported, at 0 when nothing
// has them, so that alerts and graphs do not see series come and go.
var (
	knownStatuses = []string{store.NodeOnline, store.NodeOffline, store.NodeUnconfigured}
	knownStates   = []string{store.StateInstalling, store.StateReady, store.StateFailed}
)

// panelCollector reads the counts (cached) and the reconciler's figures at
// each scrape.
type panelCollector struct {
	src PanelSource

	// mu makes concurrent scrapes wait for one query rather than each
	// run its own.
	mu        sync.Mutex
	at        time.Time
	nodes     map[string]int64
	instances map[string]int64
}

func (c *panelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodesDesc, instancesDesc, workersDesc, queueDesc, passesDesc,
		reconcileErrorsDesc, installFailuresDesc} {
		ch <- d
	}
}

func (c *panelCollector) Collect(ch chan<- prometheus.Metric) {
	nodes, instances, err := c.counts()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(nodesDesc, err)
		ch <- prometheus.NewInvalidMetric(instancesDesc, err)
	} else {
		collectCounts(ch, nodesDesc, knownStatuses, nodes)
		collectCounts(ch, instancesDesc, knownStates, instances)
	}
	if c.src.Reconciler == nil {
		return
	}
	st := c.src.Reconciler()
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(st.Workers))
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(passesDesc, prometheus.CounterValue, float64(st.Passes))
	ch <- prometheus.MustNewConstMetric(installFailuresDesc, prometheus.CounterValue, float64(st.InstallFailures))
	for i, stage := range reconcile.ErrorStages {
		ch <- prometheus.MustNewConstMetric(reconcileErrorsDesc, prometheus.CounterValue, float64(st.Errors[i]), stage)
	}
}

// counts returns the node and instance counts, from the database at most
// once per CountsTTL.
func (c *panelCollector) counts() (nodes, instances map[string]int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.src.Now()
	if c.nodes != nil && now.Sub(c.at) < CountsTTL {
		return c.nodes, c.instances, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), countsTimeout)
	defer cancel()
	if nodes, err = c.src.Store.CountNodesByStatus(ctx); err != nil {
		return nil, nil, err
	}
	if instances, err = c.src.Store.CountInstancesByState(ctx); err != nil {
		return nil, nil, err
	}
	c.nodes, c.instances, c.at = nodes, instances, now
	return nodes, instances, nil
}

// collectCounts sends one gauge per value of a count, lower-cased: the
// known values always, at 0 when absent, and any other the database holds.
func collectCounts(ch chan<- prometheus.Metric, desc *prometheus.Desc, known []string, counts map[string]int64) {
	seen := map[string]bool{}
	for _, k := range known {
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[k]), strings.ToLower(k))
	}
	for k, n := range counts {
		if !seen[k] {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), strings.ToLower(k))
		}
	}
}
