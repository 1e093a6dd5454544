package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// TestNodeMetricsReportEachInstanceFromTheStatsStream: on a node that
// keeps its stats streams, a running instance gets its CPU, memory,
// network and disk series, labelled by its id alone, from what the stream
// last sampled; the console lines its throttle dropped are counted; and
// the SFTP sessions come from the function the node gives.
func TestNodeMetricsReportEachInstanceFromTheStatsStream(t *testing.T) {
	// A clock that never moves keeps the console's throttle in one window:
	// past its 3 lines, every line is dropped.
	frozen := time.Now()
	n := nodetest.Start(t, func(int) string { return "berth_node_metrics-test" }, func(c *node.Config) {
		c.KeepStats = true
		c.ConsoleLineRate = 3
		c.Now = func() time.Time { return frozen }
	})
	reg := NewRegistry()
	RegisterNode(reg, NodeSource{Usage: n.Daemon.Usage, SFTPSessions: func() int { return 2 }})
	url := serve(t, reg)

	const id = "metricsinstance01"
	spec := nodeapi.InstanceSpec{ID: id, Generation: 1, Image: "example/game:1", MemoryMiB: 512, DiskMiB: 1024, CPU: 1,
		Ports: []nodeapi.Port{{Container: 25565, Host: 30001}}, PrimaryPort: 25565, Startup: "./game",
		Desired: nodeapi.DesiredRunning}
	if _, err := n.Client().EnsureInstance(t.Context(), spec); err != nil {
		t.Fatalf("ensure: %v", err)
	}
	instance := map[string]string{"instance_id": id}
	waitFor(t, url, "the instance running", func(f map[string]*dto.MetricFamily) bool {
		v, _ := sample(f, "berth_instance_running", instance)
		return v == 1
	})
	n.Runtime.SetStats(id, runtime.Stats{CPUPercent: 150, MemoryBytes: 100 << 20, MemoryLimit: 512 << 20,
		RxBytes: 1234, TxBytes: 5678})
	if !n.Runtime.Print(id, strings.Repeat("spam\n", 10)) {
		t.Fatal("the instance's process is not running to print")
	}
	fams := waitFor(t, url, "the sample and the dropped lines", func(f map[string]*dto.MetricFamily) bool {
		cpu, _ := sample(f, "berth_instance_cpu_usage_cores", instance)
		dropped, _ := sample(f, "berth_console_lines_dropped_total", instance)
		return cpu == 1.5 && dropped == 7
	})

	// A scrape reads what the stream kept: it samples nothing itself.
	samples := n.Runtime.Calls("Stats")
	for range 3 {
		scrape(t, url)
	}
	if got := n.Runtime.Calls("Stats"); got != samples {
		t.Errorf("3 scrapes made %d calls to the runtime's Stats, want none", got-samples)
	}

	for _, c := range []struct {
		name string
		typ  dto.MetricType
		want float64
	}{
		{"berth_instance_memory_usage_bytes", dto.MetricType_GAUGE, 100 << 20},
		{"berth_instance_memory_limit_bytes", dto.MetricType_GAUGE, 512 << 20},
		{"berth_instance_network_receive_bytes_total", dto.MetricType_COUNTER, 1234},
		{"berth_instance_network_transmit_bytes_total", dto.MetricType_COUNTER, 5678},
		{"berth_instance_disk_limit_bytes", dto.MetricType_GAUGE, 1024 << 20},
		{"berth_console_lines_dropped_total", dto.MetricType_COUNTER, 7},
		{"berth_instance_cpu_usage_cores", dto.MetricType_GAUGE, 1.5},
		{"berth_node_instances", dto.MetricType_GAUGE, 1},
	} {
		if got := typeOf(fams, c.name); got != c.typ {
			t.Errorf("%s has type %v, want %v", c.name, got, c.typ)
		}
		labels := instance
		if c.name == "berth_node_instances" {
			labels = nil
		}
		if v, ok := sample(fams, c.name, labels); !ok || v != c.want {
			t.Errorf("%s{instance_id=%q} = %v (present %v), want %v", c.name, id, v, ok, c.want)
		}
	}
	if _, ok := sample(fams, "berth_instance_disk_usage_bytes", instance); !ok {
		t.Error("no berth_instance_disk_usage_bytes for the instance")
	}
	for _, name := range []string{"berth_instance_cpu_usage_cores", "berth_instance_memory_usage_bytes"} {
		for _, m := range fams[name].GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "instance_id" {
				t.Errorf("%s has labels %v, want instance_id alone", name, m.GetLabel())
			}
		}
	}
	if v, ok := sample(fams, "berth_sftp_sessions", nil); !ok || v != 2 {
		t.Errorf("berth_sftp_sessions = %v (present %v), want 2", v, ok)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
}
