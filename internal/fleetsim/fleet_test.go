package fleetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// fleetConfig sizes one simulation.
type fleetConfig struct {
	nodes     int
	instances int
	// window is how long the steady state's CPU is measured, and the idle
	// baseline's before it.
	window time.Duration
	// deploys is how many new deploys are timed to READY at that size.
	deploys int
	// limit bounds every wait: the seed reaching READY, a deploy, the
	// offline node.
	limit time.Duration
}

// fleetFigures is what one simulation measured.
type fleetFigures struct {
	// seedReady is how long the reconciler took to carry every seeded
	// instance to READY.
	seedReady time.Duration
	// idleCPU is the process's CPU per minute with the daemons up and no
	// reconciler; busyCPU is the same in the steady state with the
	// reconciler running. Their difference is what the reconciler costs,
	// the daemons' answers to it included.
	idleCPU, busyCPU time.Duration
	// deployReady is each new deploy's time from request to READY.
	deployReady []time.Duration
	// offline is the time from a daemon's listener closing to its node
	// showing Offline.
	offline time.Duration
}

// TestSmallSimulatedFleetCarriesOutItsSeedAndNoticesAnOfflineNode runs the
// simulation at a size CI affords: 20 nodes, 2,000 instances. It checks
// what the benchmark measures happens at all; it asserts no time.
func TestSmallSimulatedFleetCarriesOutItsSeedAndNoticesAnOfflineNode(t *testing.T) {
	f := simulate(t, fleetConfig{nodes: 20, instances: 2000, window: time.Second, deploys: 5, limit: 2 * time.Minute})
	if len(f.deployReady) != 5 {
		t.Errorf("%d deploys timed, want 5", len(f.deployReady))
	}
	t.Logf("seed READY in %v; CPU/min idle %v, busy %v; deploy to READY %v; offline noticed in %v",
		f.seedReady, f.idleCPU, f.busyCPU, f.deployReady, f.offline)
}

// BenchmarkSimulatedFleet runs 500 node daemons and 100,000 instances (or
// BERTH_FLEET_NODES and BERTH_FLEET_INSTANCES) and reports the figures of
// DESIGN §13; BERTH_FLEET_WINDOW (a Go duration, 10s by default) is the
// CPU measurement window. Run it once:
//
//	go test -run '^$' -bench SimulatedFleet -benchtime 1x -timeout 60m ./internal/fleetsim/
func BenchmarkSimulatedFleet(b *testing.B) {
	cfg := fleetConfig{nodes: envInt(b, "BERTH_FLEET_NODES", 500), instances: envInt(b, "BERTH_FLEET_INSTANCES", 100000),
		window: 10 * time.Second, deploys: 20, limit: 30 * time.Minute}
	if v := os.Getenv("BERTH_FLEET_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("BERTH_FLEET_WINDOW: %v", err)
		}
		cfg.window = d
	}
	for range b.N {
		f := simulate(b, cfg)
		sorted := slices.Clone(f.deployReady)
		slices.Sort(sorted)
		b.ReportMetric(f.seedReady.Seconds(), "s-seed-ready")
		b.ReportMetric(f.idleCPU.Seconds(), "cpu-s/min-idle")
		b.ReportMetric(f.busyCPU.Seconds(), "cpu-s/min-reconciling")
		b.ReportMetric(float64(sorted[len(sorted)/2].Milliseconds()), "ms-deploy-ready-p50")
		b.ReportMetric(float64(sorted[len(sorted)-1].Milliseconds()), "ms-deploy-ready-max")
		b.ReportMetric(f.offline.Seconds(), "s-offline-noticed")
	}
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s: %q is not a positive number", name, v)
	}
	return n
}

// simulate runs one fleet of cfg's size and measures it. Everything it
// starts stops when tb ends.
func simulate(tb testing.TB, cfg fleetConfig) fleetFigures {
	tb.Helper()
	ctx := context.Background()
	st := storetest.NewSQLite(tb)(tb)
	now := time.Now().UTC().Truncate(time.Millisecond)
	const user = "fleet-user"
	if err := st.CreateUser(ctx, store.User{ID: user, Username: user, Email: "fleet@example.com", PasswordHash: "x",
		CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	// The daemons keep their records in memory-backed folders where the
	// system has them: a real node fsyncs on its own disk, and 500 of them
	// fsyncing on one would measure that disk, not the panel.
	base := memoryDir(tb)
	daemons := make([]*nodetest.Node, cfg.nodes)
	for i := range daemons {
		id := fmt.Sprintf("node-%03d", i)
		daemons[i] = nodetest.Start(tb, func(port int) string { return configureNode(tb, st, id, port) },
			func(c *node.Config) { c.Dir = filepath.Join(base, id) })
	}
	seed := make([]store.Instance, 0, cfg.instances)
	for i := range cfg.instances {
		seed = append(seed, newInstance(fmt.Sprintf("seed-%06d", i), user, fmt.Sprintf("node-%03d", i%cfg.nodes),
			1024+i/cfg.nodes, now.Add(time.Duration(i)*time.Microsecond)))
	}
	if err := st.BulkCreateInstances(ctx, seed); err != nil {
		tb.Fatal(err)
	}

	var f fleetFigures
	f.idleCPU = cpuPerMinute(cfg.window)

	rec := reconcile.New(reconcile.Config{Store: st})
	recCtx, stopRec := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { rec.Run(recCtx) })
	srv := httptest.NewServer(panel.New(panel.Config{Store: st, Kick: rec.Kick, KickNode: rec.KickNode}).Handler())
	tb.Cleanup(func() { srv.Close(); stopRec(); wg.Wait() })

	start := time.Now()
	waitFor(tb, cfg.limit, "every seeded instance READY", func() (bool, string) {
		counts, err := st.CountInstancesByState(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if counts[store.StateFailed] > 0 {
			tb.Fatalf("%d seeded instance(s) FAILED", counts[store.StateFailed])
		}
		return counts[store.StateReady] == int64(cfg.instances), fmt.Sprint(counts)
	})
	f.seedReady = time.Since(start)

	f.busyCPU = cpuPerMinute(cfg.window)

	key := secret.NewToken("berth_")
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "fleet", Name: "fleet", KeyHash: secret.Hash(key), CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	for i := range cfg.deploys {
		// The last node is spared: the first goes offline below.
		nodeID := fmt.Sprintf("node-%03d", cfg.nodes-1-i%cfg.nodes)
		port := 40000 + i
		begin := time.Now()
		id := deploy(tb, srv.URL, key, user, nodeID, port)
		waitFor(tb, cfg.limit, "deploy "+id+" READY", func() (bool, string) {
			in, err := st.InstanceByID(ctx, id)
			if err != nil {
				tb.Fatal(err)
			}
			return in.InternalState == store.StateReady, in.InternalState + " " + in.LastError
		})
		f.deployReady = append(f.deployReady, time.Since(begin))
	}

	begin := time.Now()
	daemons[0].Stop()
	waitFor(tb, cfg.limit, "node-000 Offline", func() (bool, string) {
		n, err := st.NodeByID(ctx, "node-000")
		if err != nil {
			tb.Fatal(err)
		}
		return n.Status == store.NodeOffline, n.Status
	})
	f.offline = time.Since(begin)
	return f
}

// memoryDir is a folder on /dev/shm when the system has one, removed when
// tb ends; otherwise tb's own temporary folder.
func memoryDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "berth-fleet-")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// configureNode stores node id at 127.0.0.1:port and configures it, as
// `berth node configure` would, returning its bearer token.
func configureNode(tb testing.TB, st *store.Store, id string, port int) string {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	key := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: id, Name: id, RAMMiB: 1 << 40, DiskMiB: 1 << 40, Address: "127.0.0.1",
		Port: port, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now}, secret.Hash(key), now.Add(time.Hour)); err != nil {
		tb.Fatal(err)
	}
	token := secret.NewToken("berth_node_")
	if _, err := st.ConfigureNode(ctx, secret.Hash(key), token, "", now); err != nil {
		tb.Fatal(err)
	}
	return token
}

// newInstance is a seeded instance waiting for its first ensure, as a
// deploy records it.
func newInstance(id, user, nodeID string, hostPort int, created time.Time) store.Instance {
	bindings := []ports.Binding{{Host: hostPort, Container: 25565}}
	return store.Instance{ID: id, Name: id, UserID: user, NodeID: nodeID, Image: "ghcr.io/berth-dev/game:1",
		MemoryMiB: 64, CPU: 0.1, DiskMiB: 64, Ports: bindings, Primary: bindings[0], PrimaryRaw: strconv.Itoa(hostPort),
		Variables: map[string]string{}, InternalState: store.StateInstalling, Status: "offline", Desired: "running",
		Generation: 1, InstallDeadline: created.Add(time.Hour), CreatedAt: created}
}

// deploy deploys through the panel's API and returns the instance's id.
func deploy(tb testing.TB, url, key, user, nodeID string, port int) string {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"image": "ghcr.io/berth-dev/game:1", "memory": 64, "cpu": 0.1, "disk": 64,
		"ports": fmt.Sprint("25565:", port), "primary": strconv.Itoa(port), "nodeId": nodeID, "name": "fleet", "user": user})
	req, err := http.NewRequest("POST", url+"/api/instances/deploy", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	var v struct {
		Instance struct{ ID string } `json:"instance"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(answer, &v) != nil || v.Instance.ID == "" {
		tb.Fatalf("deploy: %d %s", resp.StatusCode, answer)
	}
	return v.Instance.ID
}

// waitFor polls cond until it holds, failing tb after limit with cond's
// last account of itself.
func waitFor(tb testing.TB, limit time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %s: %s", limit, what, state)
		}
		<-tick.C
	}
}

// cpuPerMinute measures the process's CPU time (user and system) over
// window, scaled to a minute.
func cpuPerMinute(window time.Duration) time.Duration {
	before := processCPU()
	t := time.NewTimer(window)
	<-t.C
	used := processCPU() - before
	return time.Duration(float64(used) * float64(time.Minute) / float64(window))
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
