package e2e

import (
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// Bounds DESIGN §13 sets for several panels on one PostgreSQL.
const (
	// seenWithin bounds a write on one panel showing on another.
	seenWithin = time.Second
	// takeoverWithin bounds another panel driving a dead panel's nodes.
	takeoverWithin = 15 * time.Second
)

// drivenBy is the part of GET /api/nodes the test reads.
type drivenBy struct {
	ID       string `json:"id"`
	DrivenBy *struct {
		Panel   string `json:"panel"`
		Address string `json:"address"`
	} `json:"drivenBy"`
}

// TestTwoPanelsOnOnePostgres runs two `berth panel` processes on one
// PostgreSQL with two nodes: a write and a key revocation on one are seen
// on the other within a second; the panel that drives the nodes is
// killed with SIGKILL in the middle of 20 deploys sent to the other,
// which takes the nodes over within 15 s; every deploy reaches running
// once, none is lost and none runs twice.
func TestTwoPanelsOnOnePostgres(t *testing.T) {
	base := storetest.SkipWithoutPostgres(t)
	if base == "" {
		return
	}
	c := newCluster(t, clusterOptions{database: storetest.NewPostgresURL(t, base)})
	aURL, aProc := c.url, c.panel
	bAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(dockertest.FreePort(t)))
	bURL := "http://" + bAddr
	bArgs := slices.Clone(c.panelArgs)
	bArgs[slices.Index(bArgs, "-listen")+1] = bAddr
	bArgs[slices.Index(bArgs, "-data")+1] = filepath.Join(c.dir, "panel-b")
	bProc := c.startPanelAt(bURL, bArgs)

	// A write on a shows on b, whose list was read (and cached) before.
	var users []map[string]any
	c.mustCallAt(bURL, c.key, http.MethodGet, "/api/users", nil, http.StatusOK, &users)
	before := len(users)
	c.mustCallAt(aURL, c.key, http.MethodPost, "/api/auth/create-user", map[string]any{
		"username": "seen-on-b", "email": "seen-on-b@example.com", "password": "e2e-password",
	}, http.StatusCreated, nil)
	c.within(seenWithin, "a user created on panel a listed on panel b", func() bool {
		c.mustCallAt(bURL, c.key, http.MethodGet, "/api/users", nil, http.StatusOK, &users)
		return len(users) == before+1
	})

	// A key revoked on a is refused on b, which has just served it.
	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	c.mustCallAt(aURL, c.key, http.MethodPost, "/api/keys", map[string]any{"name": "revoked-on-a"}, http.StatusCreated, &key)
	c.mustCallAt(bURL, key.Key, http.MethodGet, "/api/nodes", nil, http.StatusOK, nil)
	c.mustCallAt(aURL, c.key, http.MethodDelete, "/api/keys/"+key.ID, nil, http.StatusNoContent, nil)
	c.within(seenWithin, "a key revoked on panel a refused on panel b", func() bool {
		status, _ := c.callAt(bURL, key.Key, http.MethodGet, "/api/nodes", nil, nil)
		return status == http.StatusUnauthorized
	})

	// a started first, so it drives both nodes; b says so.
	drivers := func() map[string]string {
		var nodes []drivenBy
		c.mustCallAt(bURL, c.key, http.MethodGet, "/api/nodes", nil, http.StatusOK, &nodes)
		out := map[string]string{}
		for _, n := range nodes {
			if n.DrivenBy != nil {
				out[n.ID] = n.DrivenBy.Panel + "@" + n.DrivenBy.Address
			}
		}
		return out
	}
	d := drivers()
	aDriver := d[c.nodes[0].id]
	if !strings.HasSuffix(aDriver, "@"+strings.TrimPrefix(aURL, "http://")) || d[c.nodes[1].id] != aDriver {
		t.Fatalf("drivers before the kill: %v; want both nodes driven by panel a at %s", d, aURL)
	}

	// From now on the harness talks to b.
	c.url, c.panel = bURL, bProc
	ports := freePorts(t, 20)
	ids := make([]string, 0, len(ports))
	var killed time.Time
	for i, port := range ports {
		if i == 5 {
			c.signal(aProc, syscall.SIGKILL)
			killed = time.Now()
		}
		ids = append(ids, c.deploy(c.nodes[i%2], port))
	}
	c.eventually(takeoverWithin-time.Since(killed), "panel b to drive both nodes", func() (bool, string) {
		d := drivers()
		return d[c.nodes[0].id] != "" && d[c.nodes[0].id] != aDriver && d[c.nodes[1].id] == d[c.nodes[0].id], strconv.Quote(d[c.nodes[0].id])
	})
	t.Logf("panel b drove both nodes %s after panel a was killed", time.Since(killed).Round(100*time.Millisecond))

	c.waitRunning(readyTimeout, ids...)
	all := c.instances()
	if len(all) != len(ids) {
		t.Fatalf("the panel lists %d instances after %d deploys", len(all), len(ids))
	}
	for _, id := range ids {
		c.soleContainer(id)
	}
}

// mustCallAt is callAt that fails the test unless the answer has status
// want.
func (c *cluster) mustCallAt(base, key, method, path string, body any, want int, out any) {
	c.tb.Helper()
	status, err := c.callAt(base, key, method, path, body, out)
	if status != want {
		c.tb.Fatalf("%s %s%s = %d %v, want status %d", method, base, path, status, err, want)
	}
}

// within polls ok until it holds, failing the test after limit.
func (c *cluster) within(limit time.Duration, what string, ok func() bool) {
	c.tb.Helper()
	eventuallyEvery(c.tb, 20*time.Millisecond, limit, what, func() (bool, string) { return ok(), "" })
}
