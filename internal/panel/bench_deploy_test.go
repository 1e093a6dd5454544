package panel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// BenchmarkDeployThroughput measures deploys per second through the
// panel's HTTP API, 8 clients at once, with 1,000 and 100,000 instances
// already present, spread over 10 and 500 nodes. The aim is a rate that
// does not depend on the fleet: read the ratio of the four rows of one run
// (deploys/s). The nodes were never configured, so the reconciler, which
// runs as in a panel, makes its passes without a node to call; the
// instances already present are seeded through the store in one batch.
// With BERTH_TEST_POSTGRES set, the rows are measured on PostgreSQL too.
//
//	go test -run '^$' -bench DeployThroughput -benchtime 2000x ./internal/panel/
func BenchmarkDeployThroughput(b *testing.B) {
	type backend struct {
		name string
		open storetest.Database
	}
	backends := []backend{{"sqlite", func(t testing.TB) *store.Store { return storetest.NewSQLite(t)(t) }}}
	if base := storetest.PostgresURL(); base != "" {
		backends = append(backends, backend{"postgres", func(t testing.TB) *store.Store { return storetest.NewPostgres(t, base)(t) }})
	}
	for _, backend := range backends {
		for _, instances := range []int{1000, 100000} {
			for _, nodes := range []int{10, 500} {
				name := fmt.Sprintf("%s/instances=%d/nodes=%d", backend.name, instances, nodes)
				b.Run(name, func(sub *testing.B) {
					deployFixtureOf(b, sub, name, backend.open, instances, nodes).run(sub)
				})
			}
		}
	}
}

// deployFixture is a seeded panel, served on loopback, kept across the
// runs of one sub-benchmark.
type deployFixture struct {
	url, key, user string
	nodes          []string
	// next numbers the deploys, to give each a free host port.
	next atomic.Int64
}

var deployFixtures sync.Map

// deployFixtureOf seeds (once per name) a store with a user, nodes and
// instances, and serves a panel and its reconciler over it until the
// parent benchmark ends: a sub-benchmark's cleanups run after each of its
// runs, and it is run more than once (b.N = 1 first).
func deployFixtureOf(parent, b *testing.B, name string, open storetest.Database, instances, nodes int) *deployFixture {
	if f, ok := deployFixtures.Load(name); ok {
		return f.(*deployFixture)
	}
	b.Helper()
	ctx := context.Background()
	st := open(parent)
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := &deployFixture{key: secret.NewToken("berth_"), user: "bench-user"}
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "bench", Name: "bench", KeyHash: secret.Hash(f.key), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: f.user, Username: f.user, Email: "bench@example.com", PasswordHash: "x",
		CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	for i := range nodes {
		id := fmt.Sprintf("node-%03d", i)
		if err := st.CreateNode(ctx, store.Node{ID: id, Name: id, RAMMiB: 1 << 40, DiskMiB: 1 << 40, Address: "10.0.0.1",
			Port: 8443, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now}, secret.Hash(id), now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		f.nodes = append(f.nodes, id)
	}
	seed := make([]store.Instance, 0, instances)
	for i := range instances {
		bindings := []ports.Binding{{Host: 1024 + i/nodes, Container: 25565}}
		seed = append(seed, store.Instance{ID: fmt.Sprintf("seed-%06d", i), Name: "seeded", UserID: f.user,
			NodeID: f.nodes[i%nodes], Image: "ghcr.io/berth-dev/game:1", MemoryMiB: 512, CPU: 1, DiskMiB: 1024,
			Ports: bindings, Primary: bindings[0], PrimaryRaw: fmt.Sprint(bindings[0].Host), Variables: map[string]string{},
			InternalState: store.StateReady, Status: "running", Desired: "running", Generation: 1, AppliedGeneration: 1,
			InstallDeadline: now, CreatedAt: now.Add(time.Duration(i) * time.Millisecond)})
	}
	if err := st.BulkCreateInstances(ctx, seed); err != nil {
		b.Fatal(err)
	}
	rec := reconcile.New(reconcile.Config{Store: st})
	recCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rec.Run(recCtx) }()
	srv := httptest.NewServer(panel.New(panel.Config{Store: st, Kick: rec.Kick, KickNode: rec.KickNode}).Handler())
	parent.Cleanup(func() {
		srv.Close()
		stop()
		<-done
		deployFixtures.Delete(name)
	})
	f.url = srv.URL
	deployFixtures.Store(name, f)
	return f
}

// run makes b.N deploys with 8 clients and reports deploys/s.
func (f *deployFixture) run(b *testing.B) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var left atomic.Int64
	left.Store(int64(b.N))
	errs := make(chan error, 8)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := f.deploy(client); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deploys/s")
}

// deploy makes one deploy, on the nodes in turn, with a host port no
// other deploy of its node took.
func (f *deployFixture) deploy(client *http.Client) error {
	n := int(f.next.Add(1))
	port := 30000 + n/len(f.nodes)
	body, _ := json.Marshal(map[string]any{"image": "ghcr.io/berth-dev/game:1", "memory": 512, "cpu": 1, "disk": 1024,
		"ports": fmt.Sprint("25565:", port), "primary": fmt.Sprint(port), "nodeId": f.nodes[n%len(f.nodes)],
		"name": "bench", "user": f.user})
	req, err := http.NewRequest("POST", f.url+"/api/instances/deploy", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", f.key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("deploy: %d %s", resp.StatusCode, answer)
	}
	return nil
}
