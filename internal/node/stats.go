package node

import (
	"context"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// statsFresh is how old a streamed sample may be and still answer GET
// /v1/instances/{id}/stats, which otherwise samples the runtime (a call
// that takes about a second, the engine's two CPU readings).
const statsFresh = 2 * time.Second

// handleStats is GET /v1/instances/{id}/stats.
func (d *Daemon) handleStats(w http.ResponseWriter, r *http.Request) error {
	id, rec, err := d.storedInstance(r)
	if err != nil {
		return err
	}
	s := d.sups.get(id)
	s.mu.Lock()
	cached, at, run := s.cons.stats, s.cons.statsAt, s.run
	s.mu.Unlock()
	if run != nil && time.Since(at) < statsFresh {
		writeJSON(w, http.StatusOK, cached)
		return nil
	}

	out := nodeapi.Stats{MemoryLimitBytes: uint64(rec.Spec.MemoryMiB) << 20}
	st, err := d.inspect(r.Context(), id)
	if err != nil {
		return err
	}
	if st != nil && st.Running {
		rs, err := d.rt.Stats(r.Context(), id)
		if err != nil {
			return err
		}
		out = statsOf(rs, st.StartedAt, rec.Spec.MemoryMiB)
	}
	if u, err := d.disk.Measure(r.Context(), id, rec.Spec.DiskMiB, false); err == nil {
		out.DiskBytes, _ = u.Used()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// storedInstance returns the request's {id} and the instance's record, or
// errInstanceNotFound when the node has none.
func (d *Daemon) storedInstance(r *http.Request) (string, records.Record, error) {
	id, err := pathID(r)
	if err != nil {
		return "", records.Record{}, err
	}
	rec, found, err := d.records.Load(id)
	if err == nil && !found {
		err = errInstanceNotFound
	}
	return id, rec, err
}

// statsOf turns a runtime sample into the wire's, with the uptime of a
// process started at startedAt.
func statsOf(rs runtime.Stats, startedAt time.Time, memoryMiB int64) nodeapi.Stats {
	out := nodeapi.Stats{
		CPUPercent:       rs.CPUPercent,
		MemoryBytes:      rs.MemoryBytes,
		MemoryLimitBytes: rs.MemoryLimit,
		RxBytes:          rs.RxBytes,
		TxBytes:          rs.TxBytes,
	}
	if out.MemoryLimitBytes == 0 {
		out.MemoryLimitBytes = uint64(memoryMiB) << 20
	}
	if !startedAt.IsZero() {
		out.UptimeSeconds = max(int64(time.Since(startedAt)/time.Second), 0)
	}
	return out
}

// streamStats sends a stats event to the console clients about once a
// second, from the runtime's stats stream while the process runs and a
// zero sample (with the disk figure) while it does not. It runs while the
// instance has console clients; ctx ends with the last one.
func (s *supervisor) streamStats(ctx context.Context) {
	d := s.d
	// The first figure may need a walk of the data folder; it is taken
	// here, off the clients' path, and read from the usage after that.
	if rec, found, err := d.records.Load(s.id); err == nil && found {
		_, _ = d.disk.Measure(ctx, s.id, rec.Spec.DiskMiB, false)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s.mu.Lock()
		r := s.run
		s.mu.Unlock()
		if r != nil {
			err := d.rt.StreamStats(ctx, s.id, func(rs runtime.Stats) { s.publishStats(rs, r) })
			if err != nil && ctx.Err() == nil {
				d.log.Debug("stats stream ended", "instance", s.id, "err", err)
			}
		} else {
			s.publishStats(runtime.Stats{}, nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// publishStats sends one sample to the console clients and keeps it for
// GET /v1/instances/{id}/stats. r is the run it was taken of, nil when
// the process is down.
func (s *supervisor) publishStats(rs runtime.Stats, r *containerRun) {
	used, _ := s.d.disk.Entry(s.id).Used()
	s.mu.Lock()
	defer s.mu.Unlock()
	var started time.Time
	if r != nil && s.run == r {
		started = r.startedAt
	}
	st := statsOf(rs, started, s.spec.memoryMiB)
	st.DiskBytes = used
	s.cons.stats, s.cons.statsAt = st, time.Now()
	if r == nil || s.run != r {
		s.cons.statsAt = time.Time{}
	}
	s.broadcastLocked(console.StatsFrame(st))
}

// InstanceUsage is the last resource sample of one instance, for the
// node's metrics.
type InstanceUsage struct {
	ID string
	// Running is whether the instance's process runs now.
	Running bool
	// Stats is the last sample streamed: CPU, memory and network are
	// zeros while the process is down; DiskBytes is kept either way.
	Stats nodeapi.Stats
	// DiskLimitBytes is the instance's disk limit; 0 when it has none.
	DiskLimitBytes uint64
	// ConsoleLinesDropped counts the output lines the console's throttle
	// dropped since the daemon started following the instance.
	ConsoleLinesDropped uint64
}

// Usage returns every instance's last sample, read from what the stats
// streams keep (Config.KeepStats keeps one running for each instance): it
// calls no runtime, so a scrape costs the same however slow Docker is.
func (d *Daemon) Usage() []InstanceUsage {
	d.sups.mu.Lock()
	list := make([]*supervisor, 0, len(d.sups.m))
	for _, s := range d.sups.m {
		list = append(list, s)
	}
	d.sups.mu.Unlock()
	out := make([]InstanceUsage, 0, len(list))
	for _, s := range list {
		s.mu.Lock()
		u := InstanceUsage{ID: s.id, Running: s.run != nil, Stats: s.cons.stats,
			ConsoleLinesDropped: s.cons.hub.DroppedLines()}
		if s.spec.diskMiB > 0 {
			u.DiskLimitBytes = uint64(s.spec.diskMiB) << 20
		}
		s.mu.Unlock()
		out = append(out, u)
	}
	return out
}
