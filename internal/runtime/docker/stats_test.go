package docker

import (
	"math"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func cpuSample(total, system, preTotal, preSystem uint64, online uint32, percpu int) container.StatsResponse {
	var s container.StatsResponse
	s.CPUStats.CPUUsage.TotalUsage = total
	s.CPUStats.SystemUsage = system
	s.CPUStats.OnlineCPUs = online
	s.CPUStats.CPUUsage.PercpuUsage = make([]uint64, percpu)
	s.PreCPUStats.CPUUsage.TotalUsage = preTotal
	s.PreCPUStats.SystemUsage = preSystem
	return s
}

func TestCPUPercentMatchesDockerStats(t *testing.T) {
	tests := []struct {
		name string
		s    container.StatsResponse
		want float64
	}{
		// 0.5 s of CPU over 4 cores x 1 s of system time: half a core.
		{"half a core of four", cpuSample(1_500_000_000, 14_000_000_000, 1_000_000_000, 10_000_000_000, 4, 0), 50},
		{"two full cores of two", cpuSample(4_000_000_000, 4_000_000_000, 2_000_000_000, 2_000_000_000, 2, 0), 200},
		{"online CPUs from per-CPU list", cpuSample(1_500_000_000, 14_000_000_000, 1_000_000_000, 10_000_000_000, 0, 4), 50},
		{"no previous sample system delta", cpuSample(10, 0, 0, 0, 2, 0), 0},
		{"idle", cpuSample(100, 200, 100, 100, 2, 0), 0},
	}
	for _, tt := range tests {
		if got := cpuPercent(tt.s); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: cpuPercent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMemoryUsedExcludesInactiveFileCache(t *testing.T) {
	tests := []struct {
		name string
		m    container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 300, "inactive_file": 100}}, 700},
		{"cgroup v2", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 100}}, 900},
		{"cache larger than usage", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 300}}, 100},
		{"no stats", container.MemoryStats{Usage: 500}, 500},
	}
	for _, tt := range tests {
		if got := memoryUsed(tt.m); got != tt.want {
			t.Errorf("%s: memoryUsed = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestStatsOfSumsNetworks(t *testing.T) {
	var s container.StatsResponse
	s.MemoryStats = container.MemoryStats{Usage: 10, Limit: 64 << 20}
	s.PidsStats.Current = 7
	s.Networks = map[string]container.NetworkStats{
		"eth0": {RxBytes: 100, TxBytes: 10},
		"eth1": {RxBytes: 5, TxBytes: 1},
	}
	got := statsOf(s)
	if got.RxBytes != 105 || got.TxBytes != 11 || got.PIDs != 7 || got.MemoryLimit != 64<<20 || got.MemoryBytes != 10 {
		t.Errorf("statsOf = %+v", got)
	}
}
