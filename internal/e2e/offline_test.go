package e2e

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// offlineTimeout bounds how long the panel may take to notice a stopped
// node: a few reconcile intervals and one health timeout.
const offlineTimeout = 15 * time.Second

// answerBound is the correctness bound on a request about a live node
// while another node is down: far above a local answer, far below the
// health and call timeouts a blocked request would wait out.
const answerBound = time.Second

// TestStoppedNodeShowsOfflineWithoutSlowingOthers stops node B with
// SIGTERM. B turns Offline and its instances' status "offline", requests
// about node A's instances keep answering at once, and a deploy to B made
// while it is down completes when B returns.
func TestStoppedNodeShowsOfflineWithoutSlowingOthers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	a, b := c.nodes[0], c.nodes[1]
	ports := freePorts(t, 3)
	onA, onB := c.deploy(a, ports[0]), c.deploy(b, ports[1])
	c.waitRunning(readyTimeout, onA, onB)

	c.signal(b.proc, syscall.SIGTERM)
	c.waitNodeStatus(b, "Offline", offlineTimeout)
	c.waitInstance(onB, offlineTimeout, "to show status offline", func(in instance) bool { return in.Status == "offline" })

	pending := c.deploy(b, ports[2])
	for range 5 {
		var in instance
		elapsed := timed(func() {
			c.mustCall(http.MethodPost, "/api/getInstance", map[string]string{"id": onA}, http.StatusOK, &in)
		})
		if elapsed > answerBound {
			t.Errorf("POST /api/getInstance about node A took %s while node B is down; want under %s", elapsed, answerBound)
		}
		if in.InternalState != "READY" || in.Status != "running" || in.Node.Status != "Online" {
			t.Errorf("instance on node A shows %s while node B is down; want READY, running, node Online", in)
		}
		var list []instance
		elapsed = timed(func() { c.mustCall(http.MethodGet, "/api/instances", nil, http.StatusOK, &list) })
		if elapsed > answerBound {
			t.Errorf("GET /api/instances took %s while node B is down; want under %s", elapsed, answerBound)
		}
		for _, in := range list {
			if in.Node.ID == b.id && in.Status != "offline" {
				t.Errorf("instance on the stopped node shows %s; want status offline", in)
			}
		}
	}
	if in := c.instance(pending); in.InternalState != "INSTALLING" {
		t.Errorf("deploy to the stopped node shows %s; want INSTALLING until it returns", in)
	}

	c.startNode(b)
	c.waitNodeStatus(b, "Online", offlineTimeout)
	c.waitRunning(readyTimeout, pending, onB)
	mustAnswer(t, ports[2], 10*time.Second)
	mustAnswer(t, ports[1], 10*time.Second)
}

// TestDeployToNodeThatStaysDownFails deploys to a stopped node under a
// short install timeout: the instance turns FAILED once the timeout has
// passed, not before, with an Error that names the node and why.
func TestDeployToNodeThatStaysDownFails(t *testing.T) {
	t.Parallel()
	const installTimeout = 15 * time.Second
	c := newCluster(t, clusterOptions{nodes: 1, installTimeout: installTimeout})
	n := c.nodes[0]
	c.signal(n.proc, syscall.SIGTERM)
	c.waitNodeStatus(n, "Offline", offlineTimeout)

	deployed := time.Now()
	id := c.deploy(n, freePorts(t, 1)[0])
	in := c.waitInstance(id, installTimeout+offlineTimeout, "to turn FAILED", func(in instance) bool {
		return in.InternalState != "INSTALLING"
	})
	if elapsed := time.Since(deployed); in.InternalState != "FAILED" || elapsed < installTimeout {
		t.Fatalf("%s after %s; want FAILED, and not before the %s install timeout", in, elapsed.Round(time.Millisecond),
			installTimeout)
	}
	for _, want := range []string{"node-" + n.name, "unreachable"} {
		if !strings.Contains(in.Error, want) {
			t.Errorf("Error is %q; want it to name %q", in.Error, want)
		}
	}
	if list := c.mustContainersOf(id); len(list) != 0 {
		t.Errorf("a deploy that never reached its node has %d containers", len(list))
	}
}

// timed returns how long f took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
