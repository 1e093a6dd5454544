package panel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// The API benchmarks load a panel holding 10,000 instances and 1,000 users
// with 32 concurrent clients on loopback, and, in the same run, a bare
// net/http handler that serves the very same bytes. Compare the two:
//
//	go test -run '^$' -bench 'API' -benchtime 4000x ./internal/panel/
//
// BERTH_BENCH_DATA=DIR keeps the seeded SQLite database in DIR (and reuses
// it), so that the compiled panel can be measured on the same data.
const (
	benchUsers       = 1000
	benchInstances   = 10000
	benchConcurrency = 32
)

var benchFixture struct {
	once    sync.Once
	st      *store.Store
	key     string
	someID  string
	seedErr error
}

// benchStore opens (and on first use seeds) the benchmark database.
func benchStore(b *testing.B) (*store.Store, string, string) {
	b.Helper()
	f := &benchFixture
	f.once.Do(func() {
		dir := os.Getenv("BERTH_BENCH_DATA")
		if dir == "" {
			dir, f.seedErr = os.MkdirTemp("", "berth-bench-")
			if f.seedErr != nil {
				return
			}
		}
		f.st, f.key, f.someID, f.seedErr = seedBench(context.Background(), dir)
	})
	if f.seedErr != nil {
		b.Fatal(f.seedErr)
	}
	return f.st, f.key, f.someID
}

func seedBench(ctx context.Context, dir string) (*store.Store, string, string, error) {
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		return nil, "", "", err
	}
	key := "berth_bench_key"
	if _, err := st.APIKeyByHash(ctx, secret.Hash(key)); err == nil {
		list, err := st.ListInstances(ctx)
		if err != nil || len(list) < benchInstances {
			return nil, "", "", fmt.Errorf("bench data in %s is incomplete; remove it", dir)
		}
		return st, key, list[len(list)/2].ID, nil
	}
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "bench", Name: "bench", KeyHash: secret.Hash(key), CreatedAt: time.Now()}); err != nil {
		return nil, "", "", err
	}
	hash := secret.HashPassword("benchmark-password")
	for i := range benchUsers {
		u := store.User{ID: fmt.Sprintf("user-%04d", i), Username: fmt.Sprintf("user%04d", i),
			Email: fmt.Sprintf("user%04d@example.com", i), PasswordHash: hash, CreatedAt: time.Now()}
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, "", "", err
		}
	}
	// Ten nodes of a thousand instances each: host ports are unique per node.
	for n := range 10 {
		node := store.Node{ID: fmt.Sprintf("node-%d", n), Name: fmt.Sprintf("node %d", n), RAMMiB: 1 << 30, DiskMiB: 1 << 30,
			Address: "10.0.0.1", Port: 8081, Scheme: "http", Status: store.NodeOnline, CreatedAt: time.Now()}
		if err := st.CreateNode(ctx, node, secret.Hash(node.ID), time.Now()); err != nil {
			return nil, "", "", err
		}
	}
	var some string
	for i := range benchInstances {
		port := 20000 + i/10
		bs := []ports.Binding{{Container: 25565, Host: port}}
		in := store.Instance{ID: store.NewID(8), Name: fmt.Sprintf("server %d", i), UserID: fmt.Sprintf("user-%04d", i%benchUsers),
			NodeID: fmt.Sprintf("node-%d", i%10), Image: "ghcr.io/example/paper:1.21", MemoryMiB: 2048, CPU: 1.5, DiskMiB: 10240,
			Ports: bs, Primary: bs[0], PrimaryRaw: "25565", Variables: map[string]string{"VERSION": "1.21", "EULA": "true"},
			InternalState: store.StateReady, Status: "running", Desired: "running", Generation: 1,
			CreatedAt: time.Now(), InstallDeadline: time.Now()}
		if err := st.CreateInstance(ctx, in); err != nil {
			return nil, "", "", err
		}
		if i == benchInstances/2 {
			some = in.ID
		}
	}
	return st, key, some, nil
}

// benchRequest is one kind of request the benchmark repeats.
type benchRequest struct {
	method, path, body string
}

// do sends the request with the credential key: an admin API key, a
// personal access token (berth_pat_...), or a session cookie's value
// (after "session=").
func (q benchRequest) do(c *http.Client, base, key string) (*http.Response, error) {
	req, err := http.NewRequest(q.method, base+q.path, strings.NewReader(q.body))
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(key, tokenPrefix):
		req.Header.Set("Authorization", "Bearer "+key)
	case strings.HasPrefix(key, "session="):
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.TrimPrefix(key, "session=")})
	default:
		req.Header.Set("x-api-key", key)
	}
	if q.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Do(req)
}

// runLoad runs b.N requests with that many concurrent clients and reports
// requests per second and latency percentiles.
func runLoad(b *testing.B, base, key string, q benchRequest, clients int) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range work {
				t0 := time.Now()
				resp, err := q.do(c, base, key)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("%s %s: status %d", q.method, q.path, resp.StatusCode)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return
	}
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchTarget is the panel under test: in-process by default, or the
// running binary at BERTH_BENCH_URL (with BERTH_BENCH_KEY).
func benchTarget(b *testing.B, st *store.Store, key string) (string, string) {
	b.Helper()
	if u := os.Getenv("BERTH_BENCH_URL"); u != "" {
		return u, os.Getenv("BERTH_BENCH_KEY")
	}
	srv := httptest.NewServer(New(Config{Store: st, Mode: ModeSeed}).Handler())
	b.Cleanup(srv.Close)
	return srv.URL, key
}

// bareTarget serves body, fetched once from the panel, from a bare
// net/http handler: the ceiling the panel is compared with.
func bareTarget(b *testing.B, base, key string, q benchRequest) string {
	b.Helper()
	resp, err := q.do(http.DefaultClient, base, key)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	b.Logf("%s %s answers %d bytes", q.method, q.path, len(bytes.TrimSpace(body)))
	return srv.URL
}

func benchAPI(b *testing.B, q func(id string) benchRequest) {
	st, key, id := benchStore(b)
	base, key := benchTarget(b, st, key)
	req := q(id)
	bare := bareTarget(b, base, key, req)
	for _, c := range []int{benchConcurrency, 1} {
		b.Run(fmt.Sprintf("berth/c%d", c), func(b *testing.B) { runLoad(b, base, key, req, c) })
		b.Run(fmt.Sprintf("bare/c%d", c), func(b *testing.B) { runLoad(b, bare, key, req, c) })
	}
}

// BenchmarkListInstancesRebuild is what GET /api/instances costs when a
// write has just emptied the response cache: the query over 10,000
// instances, shaping, and encoding.
func BenchmarkListInstancesRebuild(b *testing.B) {
	st, _, _ := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		list, err := st.ListInstances(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(io.Discard).Encode(viewInstances(list)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIListInstances(b *testing.B) {
	benchAPI(b, func(string) benchRequest { return benchRequest{"GET", "/api/instances", ""} })
}

func BenchmarkAPIGetInstance(b *testing.B) {
	benchAPI(b, func(id string) benchRequest {
		return benchRequest{"POST", "/api/getInstance", `{"id":"` + id + `"}`}
	})
}
