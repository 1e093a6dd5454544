package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/node"
)

// NodeSource is what a node's metrics read.
type NodeSource struct {
	// Usage returns every instance's last resource sample (node.Daemon's
	// Usage, which reads what the stats streams keep and calls no runtime).
	Usage func() []node.InstanceUsage
	// SFTPSessions, when set, is how many SFTP sessions are open on the
	// node; nil leaves berth_sftp_sessions out.
	SFTPSessions func() int
}

// RegisterNode registers a node's metrics on reg.
func RegisterNode(reg prometheus.Registerer, src NodeSource) {
	reg.MustRegister(&nodeCollector{src: src})
}

// Descriptions of a node's series. Each instance's are labelled with its
// id alone: its name and owner live on the panel, and would make every
// rename a new series. The label is instance_id, since Prometheus gives
// "instance" to the scraped target and would rename ours.
var (
	instanceLabel = []string{"instance_id"}
	runningDesc   = prometheus.NewDesc("berth_instance_running",
		"1 while the instance's process runs, 0 otherwise.", instanceLabel, nil)
	cpuDesc = prometheus.NewDesc("berth_instance_cpu_usage_cores",
		"CPU the instance used over its last sample, in cores (1 is one core busy).", instanceLabel, nil)
	memoryDesc = prometheus.NewDesc("berth_instance_memory_usage_bytes",
		"Memory the instance uses.", instanceLabel, nil)
	memoryLimitDesc = prometheus.NewDesc("berth_instance_memory_limit_bytes",
		"The instance's memory limit.", instanceLabel, nil)
	rxDesc = prometheus.NewDesc("berth_instance_network_receive_bytes_total",
		"Bytes the instance's container received since it started.", instanceLabel, nil)
	txDesc = prometheus.NewDesc("berth_instance_network_transmit_bytes_total",
		"Bytes the instance's container sent since it started.", instanceLabel, nil)
	diskDesc = prometheus.NewDesc("berth_instance_disk_usage_bytes",
		"Bytes the instance's data folder holds, as last measured.", instanceLabel, nil)
	diskLimitDesc = prometheus.NewDesc("berth_instance_disk_limit_bytes",
		"The instance's disk limit; absent when it has none.", instanceLabel, nil)
	consoleDroppedDesc = prometheus.NewDesc("berth_console_lines_dropped_total",
		"Output lines of the instance the console's throttle dropped.", instanceLabel, nil)
	sftpDesc = prometheus.NewDesc("berth_sftp_sessions",
		"SFTP sessions open on the node.", nil, nil)
	nodeInstancesDesc = prometheus.NewDesc("berth_node_instances",
		"Instances this node holds.", nil, nil)
)

// nodeCollector reports the node's instances at each scrape, from memory.
type nodeCollector struct {
	src NodeSource
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{runningDesc, cpuDesc, memoryDesc, memoryLimitDesc, rxDesc, txDesc,
		diskDesc, diskLimitDesc, consoleDroppedDesc, sftpDesc, nodeInstancesDesc} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, id string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, id)
	}
	counter := func(d *prometheus.Desc, v uint64, id string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), id)
	}
	usage := c.src.Usage()
	ch <- prometheus.MustNewConstMetric(nodeInstancesDesc, prometheus.GaugeValue, float64(len(usage)))
	for _, u := range usage {
		running := 0.0
		if u.Running {
			running = 1
		}
		gauge(runningDesc, running, u.ID)
		gauge(cpuDesc, u.Stats.CPUPercent/100, u.ID)
		gauge(memoryDesc, float64(u.Stats.MemoryBytes), u.ID)
		gauge(memoryLimitDesc, float64(u.Stats.MemoryLimitBytes), u.ID)
		counter(rxDesc, u.Stats.RxBytes, u.ID)
		counter(txDesc, u.Stats.TxBytes, u.ID)
		gauge(diskDesc, float64(u.Stats.DiskBytes), u.ID)
		if u.DiskLimitBytes > 0 {
			gauge(diskLimitDesc, float64(u.DiskLimitBytes), u.ID)
		}
		counter(consoleDroppedDesc, u.ConsoleLinesDropped, u.ID)
	}
	if c.src.SFTPSessions != nil {
		ch <- prometheus.MustNewConstMetric(sftpDesc, prometheus.GaugeValue, float64(c.src.SFTPSessions()))
	}
}
