package node

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// These benchmarks measure the console on the real engine. The daemon
// runs in the benchmark's process, so the CPU figures are this process's
// CPU time over the wall time of the run (getrusage): the daemon's share,
// plus the benchmark's own client, which only counts frames.

// cpuTime is this process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConsoleFlood has the game print b.N lines at once and measures
// how many lines a second one console client receives, and the CPU that
// costs. "unthrottled" lifts the line rate to measure the pipeline itself;
// "throttled" is the default limit, where the client gets one second's
// allowance and the daemon drops the rest.
func BenchmarkConsoleFlood(b *testing.B) {
	for _, bc := range []struct {
		name string
		rate int
	}{
		{"unthrottled", 1 << 30},
		{"throttled", DefaultConsoleLineRate},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := newTunedDockerNode(b, func(c *Config) { c.ConsoleLineRate, c.ConsoleByteRate = bc.rate, max(bc.rate, DefaultConsoleByteRate) })
			c := serveAPI(b, n.d)
			spec := n.spec(b)
			if _, err := n.d.ensure(b.Context(), spec); err != nil {
				b.Fatal(err)
			}
			conn, err := c.DialConsole(b.Context(), spec.ID)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.CloseNow()
			conn.SetReadLimit(1 << 20)
			// The game is ready once its line is out (replayed or live).
			readUntil(b, conn, []byte("Server ready on port"), nil)

			last := []byte(`"flood line ` + strconv.Itoa(b.N) + `"`)
			resumed := []byte("console output resumed")
			b.ResetTimer()
			cpu0, wall0 := cpuTime(b), time.Now()
			cmd, _ := json.Marshal(map[string]string{"event": nodeapi.EventCommand, "data": "flood " + strconv.Itoa(b.N)})
			if err := conn.Write(b.Context(), websocket.MessageText, cmd); err != nil {
				b.Fatal(err)
			}
			var got int
			count := func(frame []byte) { got += bytes.Count(frame, []byte(`"flood line `)) }
			end := last
			if bc.rate < b.N {
				end = resumed
			}
			readUntil(b, conn, end, count)
			wall, cpu := time.Since(wall0), cpuTime(b)-cpu0
			b.StopTimer()
			b.ReportMetric(float64(got)/wall.Seconds(), "lines/s")
			b.ReportMetric(float64(got), "lines-received")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkStatsFiftyInstances runs 50 game servers, each with one console
// client, and measures this process's CPU over 10 seconds of stats
// streaming (one sample a second per instance). "idle" is the same 50
// instances followed without clients, the baseline.
func BenchmarkStatsFiftyInstances(b *testing.B) {
	const instances, window = 50, 10 * time.Second
	n := newTunedDockerNode(b, nil)
	c := serveAPI(b, n.d)
	specs := make([]nodeapi.InstanceSpec, instances)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	used := map[int]bool{}
	for i := range specs {
		specs[i] = n.spec(b)
		specs[i].MemoryMiB = 32
		// FreePort frees the port it found, so it may find it again.
		for used[specs[i].Ports[0].Host] {
			specs[i].Ports[0].Host = dockertest.FreePort(b)
		}
		used[specs[i].Ports[0].Host] = true
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := n.d.ensure(b.Context(), specs[i]); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}

	measure := func(b *testing.B, clients bool) {
		ctx, cancel := context.WithCancel(b.Context())
		defer cancel()
		var mu sync.Mutex
		events := 0
		perInstance := map[string]int{}
		var readers sync.WaitGroup
		if clients {
			for _, spec := range specs {
				conn, err := c.DialConsole(ctx, spec.ID)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.CloseNow()
				readers.Go(func() {
					for {
						_, frame, err := conn.Read(ctx)
						if err != nil {
							return
						}
						if bytes.Contains(frame, []byte(`"event":"stats"`)) {
							mu.Lock()
							events++
							perInstance[spec.ID]++
							mu.Unlock()
						}
					}
				})
			}
			// Let every stream begin before measuring.
			time.Sleep(2 * time.Second)
		}
		mu.Lock()
		events = 0
		clear(perInstance)
		mu.Unlock()
		cpu0, wall0 := cpuTime(b), time.Now()
		time.Sleep(window)
		wall, cpu := time.Since(wall0), cpuTime(b)-cpu0
		mu.Lock()
		got := events
		fewest := 0
		if clients {
			fewest = int(window / time.Second * 2)
			for _, spec := range specs {
				fewest = min(fewest, perInstance[spec.ID])
			}
		}
		mu.Unlock()
		cancel()
		readers.Wait()
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
		b.ReportMetric(float64(got)/wall.Seconds(), "stats-events/s")
		b.ReportMetric(float64(fewest), "fewest-events/instance")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("idle", func(b *testing.B) {
		for b.Loop() {
			measure(b, false)
		}
	})
	b.Run("streaming", func(b *testing.B) {
		for b.Loop() {
			measure(b, true)
		}
	})
}

// readUntil reads frames until one contains end, handing each to seen.
func readUntil(b *testing.B, conn *websocket.Conn, end []byte, seen func([]byte)) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	for {
		_, frame, err := conn.Read(ctx)
		if err != nil {
			b.Fatalf("console read: %v", err)
		}
		if seen != nil {
			seen(frame)
		}
		if bytes.Contains(frame, end) {
			return
		}
	}
}
