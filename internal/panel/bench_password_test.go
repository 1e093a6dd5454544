package panel

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// The password benchmarks send 200 calls at once to a panel on loopback,
// each hashing or checking a password with argon2id, and report their p50
// and p99 latency, the process's peak RSS and the peak Go heap seen:
//
//	go test -run '^$' -bench 'PasswordLoad|LoginLoad' -benchtime 3x ./internal/panel/
//
// Argon2id runs are bounded (internal/secret), so the callers past the
// bound wait, none fails, and memory stays far below 200 concurrent
// hashes' 3.8 GiB. Peak RSS is the kernel's high-water mark, reset before
// the burst where /proc/self/clear_refs allows; the test binary's own
// memory is in it.
const passwordCallers = 200

// BenchmarkPasswordLoad sends 200 create-user calls at once, each hashing
// a new password.
func BenchmarkPasswordLoad(b *testing.B) {
	passwordLoad(b, nil, http.StatusCreated, func(base, key string, round, i int) *http.Request {
		body := fmt.Sprintf(`{"username":"u%d-%d","email":"u%d-%d@example.com","password":"correct horse battery"}`, round, i, round, i)
		req, _ := http.NewRequest("POST", base+"/api/auth/create-user", strings.NewReader(body))
		req.Header.Set("x-api-key", key)
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}

// BenchmarkLoginLoad sends 200 sign-ins (POST /auth/login) at once, one
// for each of 200 users, each checking a password and starting a session.
func BenchmarkLoginLoad(b *testing.B) {
	const password = "correct horse battery"
	setup := func(st *store.Store) {
		// One hash for all: each sign-in still checks it in full, and the
		// setup does not pay 200 hashes.
		hash := secret.HashPassword(password)
		for i := range passwordCallers {
			name := fmt.Sprintf("login%d", i)
			if err := st.CreateUser(context.Background(), store.User{ID: store.NewID(16), Username: name,
				Email: name + "@example.com", PasswordHash: hash, CreatedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
	}
	passwordLoad(b, setup, http.StatusOK, func(base, _ string, _, i int) *http.Request {
		body := fmt.Sprintf(`{"username":"login%d","password":%q}`, i, password)
		req, _ := http.NewRequest("POST", base+"/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}

// passwordLoad runs the password benchmark: setup (if not nil) prepares a
// new store, then each iteration sends passwordCallers requests at once,
// the i-th of round made by call, each of which must answer want.
func passwordLoad(b *testing.B, setup func(*store.Store), want int, call func(base, key string, round, i int) *http.Request) {
	st, err := store.Open(context.Background(), "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	k, key, err := st.IssueAPIKey(context.Background(), "bench", time.Now())
	if err != nil || k.ID == "" {
		b.Fatal(err)
	}
	if setup != nil {
		setup(st)
	}
	srv := httptest.NewServer(New(Config{Store: st}).Handler())
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: passwordCallers}}

	var latencies []time.Duration
	var peakRSS, peakHeap uint64
	round := 0
	for b.Loop() {
		round++
		resetPeakRSS()
		stopSampling := sampleHeap(&peakHeap)
		durations := make([]time.Duration, passwordCallers)
		var failed atomic.Int32
		var wg sync.WaitGroup
		for i := range passwordCallers {
			wg.Go(func() {
				req := call(srv.URL, key, round, i)
				start := time.Now()
				resp, err := client.Do(req)
				durations[i] = time.Since(start)
				if err != nil || resp.StatusCode != want {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		stopSampling()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d calls failed", n, passwordCallers)
		}
		latencies = append(latencies, durations...)
		peakRSS = max(peakRSS, highWaterRSS())
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
}

// resetPeakRSS resets the kernel's record of the process's peak RSS, where
// it may.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// highWaterRSS is the process's peak RSS in bytes (VmHWM), 0 where it
// cannot be read.
func highWaterRSS() uint64 { return procStatusBytes("VmHWM:") }

// procStatusBytes is the field of /proc/self/status given in kB, in
// bytes; 0 where it cannot be read.
func procStatusBytes(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sampleHeap records into peak the largest Go heap it sees, every
// millisecond, until the returned function is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			*peak = max(*peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
