package docker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// Stats samples the container's resource use once. The engine takes two
// CPU readings about a second apart, so the call takes that long.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	res, err := r.cli.ContainerStats(ctx, ContainerName(id), client.ContainerStatsOptions{
		IncludePreviousSample: true,
	})
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("stats %s: %w", id, notFound(err))
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return runtime.Stats{}, fmt.Errorf("stats %s: decode: %w", id, err)
	}
	return statsOf(s), nil
}

// statsOf reduces one engine sample to what the panel shows.
func statsOf(s container.StatsResponse) runtime.Stats {
	out := runtime.Stats{
		CPUPercent:  cpuPercent(s),
		MemoryBytes: memoryUsed(s.MemoryStats),
		MemoryLimit: s.MemoryStats.Limit,
		PIDs:        s.PidsStats.Current,
	}
	for _, n := range s.Networks {
		out.RxBytes += n.RxBytes
		out.TxBytes += n.TxBytes
	}
	return out
}

// cpuPercent is the share of the host's CPU time the container used between
// the two readings, scaled so that one full core is 100, as `docker stats`
// computes it.
func cpuPercent(s container.StatsResponse) float64 {
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	systemDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if systemDelta <= 0 || cpuDelta <= 0 {
		return 0
	}
	return cpuDelta / systemDelta * online * 100
}

// memoryUsed is usage minus the inactive page cache, which the kernel
// reclaims before it kills anything, as `docker stats` reports it. The
// counter is total_inactive_file on cgroup v1 and inactive_file on v2.
func memoryUsed(m container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return m.Usage - v
	}
	return m.Usage
}
