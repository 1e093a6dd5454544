package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// powerTimeout bounds one power action and what follows it: a stop gives
// the server time to save before it is killed.
const powerTimeout = 45 * time.Second

// TestPowerAndLogsThroughPanel drives an instance's power through POST
// /api/instances/power/{id}, checks each action in Docker and in the
// panel, checks that a suspended instance refuses to start, and reads the
// server's console through GET /api/instances/logs/{id}.
func TestPowerAndLogsThroughPanel(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{nodes: 1})
	port := freePorts(t, 1)[0]
	id := c.deploy(c.nodes[0], port)
	c.waitRunning(readyTimeout, id)
	mustAnswer(t, port, 10*time.Second)

	c.eventually(10*time.Second, "the console to show the server ready", func() (bool, string) {
		var logs struct {
			ID    string   `json:"id"`
			Lines []string `json:"lines"`
		}
		c.mustCall(http.MethodGet, "/api/instances/logs/"+id+"?tail=10", nil, http.StatusOK, &logs)
		if len(logs.Lines) > 10 {
			t.Fatalf("logs?tail=10 answered %d lines", len(logs.Lines))
		}
		ready := slices.ContainsFunc(logs.Lines, func(l string) bool { return strings.Contains(l, "Server ready on port") })
		return ready, strings.Join(logs.Lines, " | ")
	})

	// power runs one action and checks the answer and the panel's status.
	power := func(action, wantStatus string) {
		t.Helper()
		var in instance
		c.mustCall(http.MethodPost, "/api/instances/power/"+id, map[string]string{"action": action}, http.StatusOK, &in)
		if in.ID != id || in.Status != wantStatus {
			t.Fatalf("power %s answered %s; want status %s", action, in, wantStatus)
		}
		c.waitInstance(id, powerTimeout, "to show "+wantStatus+" after "+action, func(in instance) bool {
			return in.Status == wantStatus
		})
	}
	// running checks the container's state in Docker and returns when it
	// last started.
	running := func(want bool) string {
		t.Helper()
		ctr := c.soleContainer(id)
		if ctr.State.Running != want {
			t.Fatalf("container is %s; want running=%v", ctr.State.Status, want)
		}
		return ctr.State.StartedAt
	}

	power("stop", "stopped")
	running(false)
	power("start", "running")
	started := running(true)
	mustAnswer(t, port, 10*time.Second)

	power("restart", "running")
	if restarted := running(true); restarted == started {
		t.Errorf("restart left the container started at %s; want a new start", started)
	}
	mustAnswer(t, port, 10*time.Second)

	power("kill", "stopped")
	running(false)
	power("start", "running")
	running(true)

	var in instance
	c.mustCall(http.MethodPost, "/api/instances/suspend/"+id, nil, http.StatusOK, &in)
	if !in.Suspended {
		t.Fatalf("suspend answered %s, not suspended", in)
	}
	c.waitInstance(id, powerTimeout, "to stop once suspended", func(in instance) bool { return in.Status == "stopped" })
	running(false)
	for _, action := range []string{"start", "restart"} {
		if status, err := c.call(http.MethodPost, "/api/instances/power/"+id, map[string]string{"action": action}, nil); status != http.StatusConflict {
			t.Errorf("power %s of a suspended instance = %d, %v; want 409", action, status, err)
		}
	}
	running(false)

	c.mustCall(http.MethodPost, "/api/instances/unsuspend/"+id, nil, http.StatusOK, &in)
	power("start", "running")
	mustAnswer(t, port, 10*time.Second)

	if status, err := c.call(http.MethodPost, "/api/instances/power/"+id, map[string]string{"action": "explode"}, nil); status != http.StatusBadRequest {
		t.Errorf("power with an unknown action = %d, %v; want 400", status, err)
	}
	if status, err := c.call(http.MethodPost, "/api/instances/power/nosuchinstance", map[string]string{"action": "start"}, nil); status != http.StatusNotFound {
		t.Errorf("power of an unknown instance = %d, %v; want 404", status, err)
	}
}
