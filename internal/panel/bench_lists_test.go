package panel

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// BenchmarkListInstancesAfterWrite is GET /api/instances on the 10,000
// instances of the API benchmarks after a write, one client at a time:
// after a write to one instance (the cache is patched), after a node's
// status changes (every row shows it: the cache is rebuilt, as it was
// after any write before), the write alone, no write, and a bare net/http
// handler serving the same bytes, all in the same run:
//
//	BERTH_BENCH_DATA=/tmp/benchdata go test -run '^$' -bench 'ListInstancesAfterWrite' -benchtime 200x ./internal/panel/
func BenchmarkListInstancesAfterWrite(b *testing.B) {
	st, key, id := benchStore(b)
	ctx := context.Background()
	srv := httptest.NewServer(New(Config{Store: st, Mode: ModeSeed}).Handler())
	b.Cleanup(srv.Close)
	req := benchRequest{"GET", "/api/instances", ""}
	bare := bareTarget(b, srv.URL, key, req)
	get := func(b *testing.B, base string) {
		resp, err := req.do(http.DefaultClient, base, key)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	statuses := []string{"stopped", "running"}
	observe := func(b *testing.B, i int) {
		if err := st.SetObserved(ctx, "node-0", id, store.Observation{Status: statuses[i%2]}); err != nil {
			b.Fatal(err)
		}
	}
	// The instance is on node-0 (benchStore places instance i on node i%10
	// and names the middle one, whose index is a multiple of ten).
	health := []string{store.NodeOffline, store.NodeOnline}
	flipNode := func(b *testing.B, i int) {
		if err := st.SetNodeHealth(ctx, "node-1", health[i%2], "", 0, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	get(b, srv.URL)
	for _, c := range []struct {
		name string
		op   func(b *testing.B, i int)
	}{
		{"bare", func(b *testing.B, _ int) { get(b, bare) }},
		{"berth/no-write", func(b *testing.B, _ int) { get(b, srv.URL) }},
		{"write-only", observe},
		{"berth/after-instance-write", func(b *testing.B, i int) { observe(b, i); get(b, srv.URL) }},
		{"berth/after-node-write", func(b *testing.B, i int) { flipNode(b, i); get(b, srv.URL) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				c.op(b, i)
				i++
			}
			// CPU time, the client's included, tells the work apart from
			// the waiting on a busy machine that the wall time also counts.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(i), "cpu-ms/op")
			if i%2 == 1 && c.name == "berth/after-node-write" {
				flipNode(b, i)
			}
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// streamInstances is how many instances the memory benchmark lists.
const streamInstances = 100_000

// BenchmarkListInstancesMemory100k measures what answering the whole
// list of 100,000 instances costs in memory: streamed, as GET
// /api/instances does past the cache's bound, against reading the list
// whole and encoding it in one piece, as it was done before, in the same
// run. It reports the peak of the Go heap above where it stood before
// (sampled every millisecond) and the growth of the process's resident
// memory:
//
//	go test -run '^$' -bench 'ListInstancesMemory100k' -benchtime 1x ./internal/panel/
func BenchmarkListInstancesMemory100k(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := seedRows(ctx, st, filepath.Join(dir, store.SQLiteFile), streamInstances); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Store: st, Mode: ModeSeed}).Handler())
	defer srv.Close()
	key := "berth_bench_key"
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "k", Name: "k", KeyHash: secret.Hash(key), CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	streamed := func() (int64, error) {
		resp, err := benchRequest{"GET", "/api/instances", ""}.do(http.DefaultClient, srv.URL, key)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return io.Copy(io.Discard, resp.Body)
	}
	whole := func() (int64, error) {
		list, err := st.ListInstances(ctx)
		if err != nil {
			return 0, err
		}
		w := &countingWriter{}
		err = json.NewEncoder(w).Encode(viewInstances(list))
		return w.n, err
	}
	for _, c := range []struct {
		name string
		run  func() (int64, error)
	}{{"streamed", streamed}, {"whole", whole}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				peak, rss, n, err := measurePeak(c.run)
				if err != nil {
					b.Fatal(err)
				}
				if n < streamInstances*100 {
					b.Fatalf("answered %d bytes for %d instances", n, streamInstances)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(rss)/(1<<20), "rss-growth-MB")
				b.ReportMetric(float64(n)/(1<<20), "answer-MB")
			}
		})
	}
}

// measurePeak runs fn and returns how far the Go heap rose above where
// it stood before, at its highest, and how far the resident memory
// (VmRSS) grew.
func measurePeak(fn func() (int64, error)) (peak, rss, n int64, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	var before, high uint64
	sampleHeap(&before)()
	rssBefore := procStatusBytes("VmRSS:")
	stop := sampleHeap(&high)
	n, err = fn()
	stop()
	return int64(high - before), int64(procStatusBytes("VmRSS:")) - int64(rssBefore), n, err
}

// countingWriter counts what is written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// seedRows stores ten users and ten nodes through st, and n instances
// straight into the SQLite file at path in one transaction: a deploy
// each would take minutes, and only the listing is measured.
func seedRows(ctx context.Context, st *store.Store, path string, n int) error {
	now := time.Now()
	for i := range 10 {
		u := store.User{ID: fmt.Sprintf("user-%d", i), Username: fmt.Sprintf("user%d", i),
			Email: fmt.Sprintf("user%d@example.com", i), PasswordHash: "x", CreatedAt: now}
		if err := st.CreateUser(ctx, u); err != nil {
			return err
		}
		node := store.Node{ID: fmt.Sprintf("node-%d", i), Name: fmt.Sprintf("node %d", i), RAMMiB: 1 << 30,
			DiskMiB: 1 << 30, Address: "10.0.0.1", Port: 8081, Scheme: "http", Status: store.NodeOnline, CreatedAt: now}
		if err := st.CreateNode(ctx, node, node.ID, now); err != nil {
			return err
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO instances (id, name, user_id, node_id, image, memory_mib, cpu,
		disk_mib, ports, primary_port, primary_raw, variables, internal_state, status, desired, generation,
		install_deadline, created_at, updated_at) VALUES (?, ?, ?, ?, 'ghcr.io/example/paper:1.21', 2048, 1.5, 10240,
		?, ?, '25565', '{"EULA":"true","VERSION":"1.21"}', 'READY', 'running', 'running', 1, 0, ?, ?)`)
	if err != nil {
		return err
	}
	for i := range n {
		port := 20000 + i/10
		at := now.Add(time.Duration(i) * time.Millisecond).UnixMilli()
		if _, err := ins.ExecContext(ctx, store.NewID(8), fmt.Sprintf("server %d", i), fmt.Sprintf("user-%d", i%10),
			fmt.Sprintf("node-%d", i%10), fmt.Sprintf("25565:%d", port), port, at, at); err != nil {
			return err
		}
	}
	return tx.Commit()
}
