package e2e

import (
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestPanelKilledDuringDeploysReadiesEachAcceptedInstanceOnce fires 20
// deploys at once across two nodes, kills the panel with SIGKILL after the
// first few are accepted, and restarts it on the same data folder. Every
// accepted deploy must become READY and running exactly once, with exactly
// one container, and no container may exist for a deploy the database does
// not hold.
func TestPanelKilledDuringDeploysReadiesEachAcceptedInstanceOnce(t *testing.T) {
	t.Parallel()
	const deploys, killAfter = 20, 3
	c := newCluster(t, clusterOptions{})
	hostPorts := freePorts(t, deploys)

	type result struct {
		status int
		id     string
		err    error
	}
	results := make([]result, deploys)
	accepted := make(chan struct{}, deploys)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range deploys {
		wg.Go(func() {
			<-start
			status, id, err := c.tryDeploy(c.nodes[i%len(c.nodes)], hostPorts[i])
			results[i] = result{status, id, err}
			if status == http.StatusCreated {
				accepted <- struct{}{}
			}
		})
	}
	close(start)
	timeout := time.After(requestTimeout)
	for range killAfter {
		select {
		case <-accepted:
		case <-timeout:
			t.Fatalf("fewer than %d of %d deploys were accepted within %s", killAfter, deploys, requestTimeout)
		}
	}
	c.killPanel()
	wg.Wait()

	var acceptedIDs []string
	for i, r := range results {
		switch {
		case r.status == http.StatusCreated && r.err != nil:
			t.Errorf("deploy %d: %v", i, r.err)
		case r.status == http.StatusCreated:
			acceptedIDs = append(acceptedIDs, r.id)
		case r.status != 0:
			// An answer other than 201 from a live panel is a bug; a
			// killed panel gives no answer at all.
			t.Errorf("deploy %d answered %d: %v", i, r.status, r.err)
		}
	}
	t.Logf("%d of %d deploys accepted before the panel was killed", len(acceptedIDs), deploys)

	c.startPanel()
	stored := c.instances()
	for _, id := range acceptedIDs {
		if _, ok := stored[id]; !ok {
			t.Errorf("accepted instance %s is not in the database after the restart", id)
		}
	}
	t.Logf("%d instances stored after the restart", len(stored))
	// Every instance the database holds was durably accepted, answered or
	// not, so every one of them has to come up.
	all := make([]string, 0, len(stored))
	for id := range stored {
		all = append(all, id)
	}
	ready := map[string]bool{}
	c.eventually(readyTimeout, "every stored instance to be READY and running", func() (bool, string) {
		var waiting []string
		for id, in := range c.instances() {
			switch {
			case in.InternalState == "FAILED":
				t.Fatalf("instance %s", in)
			case ready[id] && in.InternalState != "READY":
				t.Fatalf("instance %s left READY: %s", id, in)
			case in.InternalState == "READY":
				ready[id] = true
			}
			if in.InternalState != "READY" || in.Status != "running" {
				waiting = append(waiting, in.String())
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})

	final := c.instances()
	if len(final) != len(all) {
		t.Errorf("the panel lists %d instances after they came up, %d before", len(final), len(all))
	}
	logs := c.panelLogs()
	for _, id := range all {
		in := final[id]
		ctr := c.soleContainer(id)
		if !ctr.State.Running {
			t.Errorf("container of %s is %s, want running", id, ctr.State.Status)
		}
		if ctr.ID != in.ContainerID {
			t.Errorf("instance %s shows container %.12s, Docker has %.12s", id, in.ContainerID, ctr.ID)
		}
		// The reconciler logs the transition INSTALLING -> READY as it
		// makes it: none means it happened behind the reconciler's back,
		// two a second install. (Only a kill landing between the database
		// write and the log line could drop one, and the kill comes well
		// before the first install can finish.)
		if n := readyLines(logs, id); n != 1 {
			t.Errorf("the panel logged instance %s becoming READY %d times, want once", id, n)
		}
		mustAnswer(t, hostPort(t, in), 10*time.Second)
	}

	own, err := c.ownContainers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range own {
		if id := s.Labels["berth.instance"]; final[id].ID == "" {
			t.Errorf("container %.12s is for instance %q, which the panel does not hold", s.ID, id)
		}
	}
	if len(own) != len(final) {
		t.Errorf("the nodes made %d containers for %d instances", len(own), len(final))
	}
}

// readyLines counts the log lines saying that instance id became READY.
func readyLines(logs, id string) int {
	n := 0
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `msg="instance ready"`) && strings.Contains(line, " instance_id="+id) {
			n++
		}
	}
	return n
}

// panelLogs is every panel process's output so far, in order.
func (c *cluster) panelLogs() string {
	c.tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, p := range c.procs {
		if p.name != "panel" {
			continue
		}
		data, err := os.ReadFile(p.logPath)
		if err != nil {
			c.tb.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestNodeKilledKeepsContainersRunning kills a node daemon with SIGKILL:
// its containers keep running, the panel shows them offline while it is
// gone and running once it is back, and no container is recreated or
// restarted.
func TestNodeKilledKeepsContainersRunning(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	a, b := c.nodes[0], c.nodes[1]
	ports := freePorts(t, 3)
	onA := []string{c.deploy(a, ports[0]), c.deploy(a, ports[1])}
	onB := c.deploy(b, ports[2])
	c.waitRunning(readyTimeout, append(onA, onB)...)

	type seen struct{ id, startedAt string }
	before := map[string]seen{}
	for _, id := range onA {
		ctr := c.soleContainer(id)
		before[id] = seen{ctr.ID, ctr.State.StartedAt}
	}

	c.signal(a.proc, syscall.SIGKILL)
	for _, id := range onA {
		if ctr := c.soleContainer(id); !ctr.State.Running {
			t.Errorf("container of %s is %s after its daemon was killed, want running", id, ctr.State.Status)
		}
	}
	c.waitNodeStatus(a, "Offline", 30*time.Second)
	for _, id := range onA {
		if in := c.instance(id); in.Status != "offline" {
			t.Errorf("while its node is down, instance shows %s; want Status offline", in)
		}
		if ctr := c.soleContainer(id); !ctr.State.Running {
			t.Errorf("container of %s is %s while its daemon is down, want running", id, ctr.State.Status)
		}
	}
	for _, port := range ports[:2] {
		mustAnswer(t, port, 5*time.Second)
	}
	if in := c.instance(onB); in.Status != "running" {
		t.Errorf("instance on the live node shows %s; want running", in)
	}

	c.startNode(a)
	c.waitNodeStatus(a, "Online", 30*time.Second)
	after := c.waitRunning(30*time.Second, onA...)
	for _, id := range onA {
		ctr := c.soleContainer(id)
		if got := (seen{ctr.ID, ctr.State.StartedAt}); got != before[id] {
			t.Errorf("instance %s: container %.12s started %s before the kill, %.12s started %s after; want the same, untouched",
				id, before[id].id, before[id].startedAt, got.id, got.startedAt)
		}
		if after[id].ContainerID != ctr.ID {
			t.Errorf("instance %s shows container %.12s, Docker has %.12s", id, after[id].ContainerID, ctr.ID)
		}
	}
}
