package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// The benchmarks compare Berth with a plain `docker run` of the same image
// under the same limits, in one run, so that the ratio between the two
// sub-benchmarks is the figure to read: absolute times depend on the host.
// They time, never assert a time.

// benchDeploys is how many deploys BenchmarkDeploy50 and BenchmarkNodeRSS
// make at once.
const benchDeploys = 50

// use points the cluster's helpers at tb, a sub-benchmark, until the
// returned function restores the parent: failures then stop the goroutine
// that runs tb, as they must.
func (c *cluster) use(tb testing.TB) (restore func()) {
	parent := c.tb
	c.tb = tb
	return func() { c.tb = parent }
}

// BenchmarkDeployToRunning times one deploy from the request until the game
// server's port answers with its banner: through the panel and a node
// daemon ("berth"), and with `docker run -d` ("docker-run"). Each reports
// ms/op; the instance or container is removed between iterations, outside
// the timer.
func BenchmarkDeployToRunning(b *testing.B) {
	c := newCluster(b, clusterOptions{nodes: 1})
	b.Run("berth", func(b *testing.B) {
		defer c.use(b)()
		mean := timeDeploys(b, 1, func(ports []int) func() {
			id := c.deploy(c.nodes[0], ports[0])
			c.awaitStarted(id)
			mustAnswer(b, ports[0], readyTimeout)
			return func() { c.deleteInstance(id, readyTimeout) }
		})
		b.ReportMetric(float64(mean.Microseconds())/1000, "ms/op")
	})
	b.Run("docker-run", func(b *testing.B) {
		dr := newDockerRunner(b, c)
		mean := timeDeploys(b, 1, func(ports []int) func() {
			name := dr.run(b, ports[0])
			mustAnswer(b, ports[0], readyTimeout)
			return func() { dr.remove(b, name) }
		})
		b.ReportMetric(float64(mean.Microseconds())/1000, "ms/op")
	})
}

// BenchmarkDeploy50 times 50 deploys made at once, spread over two nodes,
// until every port answers ("berth"), against 50 `docker run -d` started at
// once ("docker-run"). Each reports s/op, an op being all 50.
func BenchmarkDeploy50(b *testing.B) {
	c := newCluster(b, clusterOptions{nodes: 2})
	b.Run("berth", func(b *testing.B) {
		defer c.use(b)()
		mean := timeDeploys(b, benchDeploys, func(ports []int) func() {
			ids := make([]string, len(ports))
			err := inParallel(len(ports), func(i int) error {
				status, id, err := c.tryDeploy(c.nodes[i%len(c.nodes)], ports[i])
				ids[i] = id
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("deploy answered %d", status)
				}
				return err
			})
			if err == nil {
				c.awaitStarted(ids...)
				err = inParallel(len(ports), func(i int) error { return answers(ports[i]) })
			}
			return func() {
				if err != nil {
					b.Fatal(err)
				}
				c.deleteAll(ids)
			}
		})
		b.ReportMetric(mean.Seconds(), "s/op")
	})
	b.Run("docker-run", func(b *testing.B) {
		dr := newDockerRunner(b, c)
		mean := timeDeploys(b, benchDeploys, func(ports []int) func() {
			names := make([]string, len(ports))
			err := inParallel(len(ports), func(i int) error {
				var err error
				if names[i], err = dr.tryRun(ports[i]); err != nil {
					return err
				}
				return answers(ports[i])
			})
			return func() {
				if err != nil {
					b.Fatal(err)
				}
				dr.remove(b, names...)
			}
		})
		b.ReportMetric(mean.Seconds(), "s/op")
	})
}

// startPoll is how often a benchmark asks the panel whether its instances
// run: often enough not to blur the timings, seldom enough not to load the
// panel.
const startPoll = 10 * time.Millisecond

// awaitStarted waits until the panel reports every instance in ids READY
// and running, so that a benchmark probes the game server's port only once
// its container has started, as it does after `docker run -d` returns. (A
// probe during the container's start goes to an address the kernel cannot
// resolve yet, and the retry of that resolution adds about a second to
// whichever side made it.)
func (c *cluster) awaitStarted(ids ...string) {
	c.tb.Helper()
	c.waitRunningEvery(startPoll, 3*readyTimeout, ids...)
}

// timeDeploys runs deploy once per iteration with n fresh host ports and
// returns its mean duration. What deploy returns runs outside the timer:
// checks and the removal of what it made.
func timeDeploys(b *testing.B, n int, deploy func(ports []int) (cleanup func())) time.Duration {
	b.Helper()
	var total time.Duration
	runs := 0
	for b.Loop() {
		b.StopTimer()
		ports := freePorts(b, n)
		b.StartTimer()
		start := time.Now()
		cleanup := deploy(ports)
		total += time.Since(start)
		runs++
		b.StopTimer()
		cleanup()
		b.StartTimer()
	}
	return total / time.Duration(runs)
}

// inParallel runs f(0) to f(n-1) at once and returns the first error.
func inParallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// BenchmarkNodeRSS reports the resident memory (VmRSS) of a `berth node`
// process, and of its panel, idle and with 50 running instances, in MB.
func BenchmarkNodeRSS(b *testing.B) {
	c := newCluster(b, clusterOptions{nodes: 1})
	n := c.nodes[0]
	// Let the panel visit the node once more, so that idle includes
	// serving the reconciler's polls.
	first := c.nodeRecord(n).LastSeen
	c.eventually(startTimeout, "another health check of the node", func() (bool, string) {
		seen := c.nodeRecord(n).LastSeen
		return seen != first, seen
	})
	report := func(b *testing.B) {
		var node, panel int64
		for b.Loop() {
			node, panel = residentKiB(b, n.proc), residentKiB(b, c.panel)
		}
		b.ReportMetric(float64(node)/1024, "node-MB")
		b.ReportMetric(float64(panel)/1024, "panel-MB")
	}
	b.Run("idle", report)

	ports := freePorts(b, benchDeploys)
	ids := make([]string, benchDeploys)
	for i := range ids {
		ids[i] = c.deploy(n, ports[i])
	}
	c.waitRunning(3*readyTimeout, ids...)
	for _, p := range ports {
		mustAnswer(b, p, readyTimeout)
	}
	b.Run("50-instances", report)
	c.deleteAll(ids)
}

// deleteAll deletes instances through the API and waits until their nodes
// have removed every container.
func (c *cluster) deleteAll(ids []string) {
	c.tb.Helper()
	for _, id := range ids {
		if id != "" {
			c.mustCall(http.MethodDelete, "/api/instance/delete", map[string]string{"id": id}, http.StatusCreated, nil)
		}
	}
	c.eventually(3*readyTimeout, "the nodes to remove every container", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		own, err := c.ownContainers(ctx)
		if err != nil {
			c.tb.Fatal(err)
		}
		return len(own) == 0, fmt.Sprintf("%d containers left", len(own))
	})
}

// answers waits for the game server on port to send its banner.
func answers(port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*readyTimeout)
	defer cancel()
	return waitBanner(ctx, port)
}

// residentKiB reads VmRSS of a running process from /proc/<pid>/status.
func residentKiB(tb testing.TB, p *process) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		tb.Fatalf("%s: %v", p.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("%s: VmRSS %q: %v", p.name, rest, err)
			}
			return kib
		}
	}
	tb.Fatalf("%s: no VmRSS in /proc/%d/status", p.name, p.cmd.Process.Pid)
	return 0
}

// dockerRunner starts containers with the docker CLI, as an operator would
// without Berth, with the same image and limits as Berth's instances. Its
// containers carry a label of their own, by which they are all removed
// when the benchmark ends.
type dockerRunner struct {
	image string
	label string
	seq   int
	mu    sync.Mutex
}

func newDockerRunner(tb testing.TB, c *cluster) *dockerRunner {
	tb.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		tb.Skip("the docker CLI is not installed")
	}
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	dr := &dockerRunner{image: c.image, label: "berth.e2e-bench=" + hex.EncodeToString(rnd)}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := c.docker.ContainerList(ctx, client.ContainerListOptions{
			All: true, Filters: make(client.Filters).Add("label", dr.label),
		})
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		for _, s := range res.Items {
			if _, err := c.docker.ContainerRemove(ctx, s.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
				tb.Errorf("cleanup: remove %s: %v", s.ID, err)
			}
		}
	})
	return dr
}

// tryRun starts one game server with `docker run -d`, published on port,
// and returns the container's name. It may run on any goroutine.
func (dr *dockerRunner) tryRun(port int) (string, error) {
	dr.mu.Lock()
	dr.seq++
	name := fmt.Sprintf("berth-bench-%s-%d", dr.label[len("berth.e2e-bench="):], dr.seq)
	dr.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*readyTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--name", name, "--label", dr.label,
		"--memory", fmt.Sprintf("%dm", instanceMemoryMiB), "--memory-swap", fmt.Sprintf("%dm", instanceMemoryMiB),
		"--cpus", strconv.FormatFloat(instanceCPU, 'f', -1, 64), "--pids-limit", strconv.Itoa(instancePids),
		"-p", fmt.Sprintf("%d:%d/tcp", port, gamePort), "-p", fmt.Sprintf("%d:%d/udp", port, gamePort),
		"-e", "PRIMARY_PORT="+strconv.Itoa(gamePort), dr.image).CombinedOutput()
	if err != nil {
		return name, fmt.Errorf("docker run: %v: %s", err, out)
	}
	return name, nil
}

// run is tryRun that fails the benchmark on an error.
func (dr *dockerRunner) run(tb testing.TB, port int) string {
	tb.Helper()
	name, err := dr.tryRun(port)
	if err != nil {
		tb.Fatal(err)
	}
	return name
}

// remove deletes containers with `docker rm -f`.
func (dr *dockerRunner) remove(tb testing.TB, names ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*readyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", append([]string{"rm", "-f"}, names...)...).CombinedOutput(); err != nil {
		tb.Fatalf("docker rm -f: %v: %s", err, out)
	}
}
