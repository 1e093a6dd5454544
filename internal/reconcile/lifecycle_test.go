package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/runtime/docker"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// These tests run the whole system in one process on the local Docker
// engine: a SQLite store, the panel's API, the reconciler and node daemons
// with the real Docker runtime. Every step goes through the panel's HTTP
// API, as an admin's client would.

const (
	// gamePort is where the test game server listens in its container.
	gamePort = 25565
	// reconcileInterval is short so that the tests wait little.
	reconcileInterval = 200 * time.Millisecond
	// waitLimit bounds every poll.
	waitLimit = 60 * time.Second
	// memoryMiB and cpu are what each test instance asks for.
	memoryMiB = 64
	cpu       = 0.5
)

// cluster is a panel with its store and reconciler, and the Docker engine
// its nodes run on.
type cluster struct {
	st    *store.Store
	url   string
	key   string
	user  string
	cli   *client.Client
	image string
	web   *http.Client

	mu  sync.Mutex
	ids []string // instances deployed, whose containers go at the end
}

// newCluster starts a panel whose installs time out after installTimeout
// (0 is the panel's default), with its reconciler, and one user.
func newCluster(t *testing.T, installTimeout time.Duration) *cluster {
	t.Helper()
	c := &cluster{
		cli:   dockertest.RequireDocker(t),
		image: dockertest.GameServerImage(t),
		web:   &http.Client{Timeout: 30 * time.Second},
	}
	st, err := store.Open(t.Context(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	c.st = st
	c.key = secret.NewToken("berth_")
	if err := st.CreateAPIKey(t.Context(), store.APIKey{ID: store.NewID(8), Name: "test", KeyHash: secret.Hash(c.key),
		CreatedAt: time.Now()}); err != nil {
		t.Fatalf("create api key: %v", err)
	}
	// Registered before the reconciler starts, so run after it stops: a
	// reconciler still running could create a container again.
	t.Cleanup(func() { c.removeContainers(t) })

	rec := reconcile.New(reconcile.Config{Store: st, Interval: reconcileInterval, HealthTimeout: time.Second,
		// waitPasses watches last_seen move at every pass.
		SeenEvery: time.Nanosecond})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		rec.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})

	srv := httptest.NewServer(panel.New(panel.Config{Store: st, InstallTimeout: installTimeout, Kick: rec.Kick, KickNode: rec.KickNode}).Handler())
	t.Cleanup(srv.Close)
	c.url = srv.URL

	code, body := c.call(t, http.MethodPost, "/api/auth/create-user", map[string]any{
		"username": "player", "email": "player@example.com", "password": "correct horse"})
	var u struct {
		UserID string `json:"userId"`
	}
	if code != http.StatusCreated || json.Unmarshal(body, &u) != nil || u.UserID == "" {
		t.Fatalf("create user: %d %s", code, body)
	}
	c.user = u.UserID
	return c
}

// testNode is a node registered with the panel.
type testNode struct {
	id   string
	name string
	dir  string
}

// register stores a node at 127.0.0.1:port and configures it, as
// `berth node configure` would, returning the node's bearer token.
func (c *cluster) register(t *testing.T, name string, port int) (testNode, string) {
	t.Helper()
	n := testNode{id: store.NewID(16), name: name}
	key := secret.NewToken("berth_cfg_")
	now := time.Now()
	err := c.st.CreateNode(t.Context(), store.Node{ID: n.id, Name: name, RAMMiB: 8192, DiskMiB: 8192,
		Address: "127.0.0.1", Port: port, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now},
		secret.Hash(key), now.Add(time.Hour))
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	token := secret.NewToken("berth_node_")
	if _, err := c.st.ConfigureNode(t.Context(), secret.Hash(key), token, "", now); err != nil {
		t.Fatalf("configure node %s: %v", name, err)
	}
	return n, token
}

// addNode starts a node daemon over the Docker runtime on a free loopback
// port and registers it; it serves until the test ends. Each option may
// change the daemon's configuration first.
func (c *cluster) addNode(t *testing.T, name string, options ...func(*node.Config)) testNode {
	t.Helper()
	return c.addNodeOn(t, name, nil, options...)
}

// addNodeOn is addNode with the Docker runtime built with runtimeOptions.
func (c *cluster) addNodeOn(t *testing.T, name string, runtimeOptions []docker.Option, options ...func(*node.Config)) testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, token := c.register(t, name, ln.Addr().(*net.TCPAddr).Port)
	n.dir = t.TempDir()
	rt, err := docker.New(t.Context(), runtimeOptions...)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	cfg := node.Config{Dir: n.dir, TokenSHA256: secret.Hash(token), Version: "test",
		StopTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second}
	for _, option := range options {
		option(&cfg)
	}
	d, err := node.New(cfg, rt, nil)
	if err != nil {
		ln.Close()
		t.Fatalf("node.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("node %s: %v", name, err)
		}
	})
	return n
}

// addUnreachableNode registers a node whose address is a closed port.
func (c *cluster) addUnreachableNode(t *testing.T, name string) testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n, _ := c.register(t, name, port)
	return n
}

// call sends an authenticated API request and returns the status and body.
func (c *cluster) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.web.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// instance is the part of the API's instance view these tests read.
type instance struct {
	ID            string `json:"Id"`
	InternalState string `json:"InternalState"`
	Status        string `json:"Status"`
	Error         string `json:"Error"`
	ExitCode      int    `json:"ExitCode"`
	OOMKilled     bool   `json:"OOMKilled"`
	ContainerID   string `json:"ContainerId"`
	Suspended     bool   `json:"suspended"`
	Node          struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"Node"`
}

// expectInstance sends a request answered with an instance view and
// fails unless the status is want.
func (c *cluster) expectInstance(t *testing.T, want int, method, path string, body any) instance {
	t.Helper()
	code, b := c.call(t, method, path, body)
	var in instance
	if code != want || json.Unmarshal(b, &in) != nil {
		t.Fatalf("%s %s: %d %s, want %d with an instance", method, path, code, b, want)
	}
	return in
}

// deploy asks the panel for an instance of image on n, publishing the game
// port on hostPort, and returns its ID.
func (c *cluster) deploy(t *testing.T, n testNode, image string, hostPort int) string {
	t.Helper()
	code, b := c.call(t, http.MethodPost, "/api/instances/deploy", map[string]any{
		"name": "game", "image": image, "memory": memoryMiB, "cpu": cpu,
		"ports": strconv.Itoa(gamePort) + ":" + strconv.Itoa(hostPort), "primary": strconv.Itoa(hostPort),
		"nodeId": n.id, "user": c.user,
	})
	var resp struct {
		State    string   `json:"state"`
		Instance instance `json:"instance"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &resp) != nil || resp.Instance.ID == "" {
		t.Fatalf("deploy: %d %s", code, b)
	}
	if resp.State != store.StateInstalling {
		t.Errorf("deploy answered state %q, want %s", resp.State, store.StateInstalling)
	}
	c.mu.Lock()
	c.ids = append(c.ids, resp.Instance.ID)
	c.mu.Unlock()
	return resp.Instance.ID
}

// get reads one instance through the API.
func (c *cluster) get(t *testing.T, id string) instance {
	t.Helper()
	return c.expectInstance(t, http.StatusOK, http.MethodPost, "/api/getInstance", map[string]string{"id": id})
}

// power runs a power action through the API and returns the answer.
func (c *cluster) power(t *testing.T, id, action string) (int, []byte) {
	t.Helper()
	return c.call(t, http.MethodPost, "/api/instances/power/"+id, map[string]string{"action": action})
}

// waitInstance polls the instance until cond holds.
func (c *cluster) waitInstance(t *testing.T, id, what string, cond func(instance) bool) instance {
	t.Helper()
	var in instance
	poll(t, what, func() (bool, string) {
		in = c.get(t, id)
		return cond(in), in.describe()
	})
	return in
}

// runningInstance starts a cluster with one node and deploys the game
// server there, publishing it on a free host port, and waits until it is
// READY and running.
func runningInstance(t *testing.T) (c *cluster, n testNode, id string, hostPort int) {
	t.Helper()
	c = newCluster(t, 0)
	n = c.addNode(t, "node-a")
	hostPort = dockertest.FreePort(t)
	id = c.deploy(t, n, c.image, hostPort)
	c.waitReadyAndRunning(t, id)
	return c, n, id, hostPort
}

// waitReadyAndRunning polls until the instance is READY and running.
func (c *cluster) waitReadyAndRunning(t *testing.T, id string) instance {
	t.Helper()
	return c.waitInstance(t, id, id+" READY and running", func(in instance) bool {
		if in.InternalState == store.StateFailed {
			t.Fatalf("instance %s FAILED: %s", id, in.Error)
		}
		return in.InternalState == store.StateReady && in.Status == "running"
	})
}

func (in instance) describe() string {
	return in.InternalState + "/" + in.Status + " error=" + strconv.Quote(in.Error)
}

// waitPasses returns once the reconciler has made two full visits to n
// that began after the call: whatever it was going to do, it has done.
func (c *cluster) waitPasses(t *testing.T, n testNode) {
	t.Helper()
	since := time.Now()
	for range 2 {
		var seen time.Time
		poll(t, "a reconcile pass of node "+n.name+" after "+since.Format(time.RFC3339Nano), func() (bool, string) {
			seen = c.lastSeen(t, n)
			return seen.After(since), seen.String()
		})
		since = seen
	}
}

// lastSeen is the node's last health check, as GET /api/nodes shows it.
func (c *cluster) lastSeen(t *testing.T, n testNode) time.Time {
	t.Helper()
	code, b := c.call(t, http.MethodGet, "/api/nodes", nil)
	var nodes []struct {
		ID       string     `json:"id"`
		LastSeen *time.Time `json:"lastSeen"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &nodes) != nil {
		t.Fatalf("GET /api/nodes: %d %s", code, b)
	}
	for _, x := range nodes {
		if x.ID == n.id && x.LastSeen != nil {
			return *x.LastSeen
		}
	}
	return time.Time{}
}

// inspect returns the engine's view of the instance's container.
func (c *cluster) inspect(t *testing.T, id string) container.InspectResponse {
	t.Helper()
	res, err := c.cli.ContainerInspect(t.Context(), docker.ContainerName(id), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect container of %s: %v", id, err)
	}
	return res.Container
}

// running reports whether the instance's container runs, per the engine.
func (c *cluster) running(t *testing.T, id string) bool {
	t.Helper()
	ct := c.inspect(t, id)
	return ct.State != nil && ct.State.Running
}

// waitContainer polls the engine until the container runs (or not).
func (c *cluster) waitContainer(t *testing.T, id string, running bool) {
	t.Helper()
	poll(t, "container of "+id+" running="+strconv.FormatBool(running), func() (bool, string) {
		ct := c.inspect(t, id)
		if ct.State == nil {
			return false, "no state"
		}
		return ct.State.Running == running, string(ct.State.Status)
	})
}

// removeContainers force-removes the containers of every deployed instance.
func (c *cluster) removeContainers(t *testing.T) {
	c.mu.Lock()
	ids := slices.Clone(c.ids)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := dockertest.RemoveContainers(ctx, c.cli, id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// poll calls check until it reports true, failing after waitLimit with
// the last thing check saw.
func poll(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; last seen: %s", what, waitLimit, seen)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		}
	}
}

// waitBanner polls the host port until the game server greets over proto.
func waitBanner(t *testing.T, proto string, port int) {
	t.Helper()
	poll(t, proto+" banner on host port "+strconv.Itoa(port), func() (bool, string) {
		line, err := dockertest.ReadBanner(proto, port)
		if err != nil {
			return false, err.Error()
		}
		return strings.HasPrefix(line, "berth-gameserver "), line
	})
}

func TestDeployedInstanceBecomesReadyInLimitedContainerThatAnswers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a")
	hostPort := dockertest.FreePort(t)
	id := c.deploy(t, n, c.image, hostPort)

	in := c.waitReadyAndRunning(t, id)
	ct := c.inspect(t, id)
	if in.ContainerID != ct.ID {
		t.Errorf("panel shows container %q, engine has %q", in.ContainerID, ct.ID)
	}
	hc := ct.HostConfig
	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"Memory is the deploy's memory", hc.Memory == memoryMiB<<20, hc.Memory},
		{"MemorySwap equals Memory", hc.MemorySwap == hc.Memory, hc.MemorySwap},
		{"NanoCPUs is the deploy's cpu", hc.NanoCPUs == int64(cpu*1e9), hc.NanoCPUs},
		{"PidsLimit is set", hc.PidsLimit != nil && *hc.PidsLimit == docker.DefaultPidsLimit, hc.PidsLimit},
		{"no-new-privileges", slices.Contains(hc.SecurityOpt, "no-new-privileges"), hc.SecurityOpt},
	}
	for _, proto := range []network.IPProtocol{network.TCP, network.UDP} {
		port, _ := network.PortFrom(gamePort, proto)
		b := hc.PortBindings[port]
		checks = append(checks, struct {
			name string
			ok   bool
			got  any
		}{"binding " + port.String(), len(b) == 1 && b[0].HostPort == strconv.Itoa(hostPort), hc.PortBindings})
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: got %v", ch.name, ch.got)
		}
	}
	waitBanner(t, "tcp", hostPort)
	waitBanner(t, "udp", hostPort)

	var logs struct {
		ID    string   `json:"id"`
		Lines []string `json:"lines"`
	}
	poll(t, "the ready line in GET /api/instances/logs", func() (bool, string) {
		code, b := c.call(t, http.MethodGet, "/api/instances/logs/"+id+"?tail=20", nil)
		if code != http.StatusOK || json.Unmarshal(b, &logs) != nil {
			t.Fatalf("logs: %d %s", code, b)
		}
		return slices.ContainsFunc(logs.Lines, func(l string) bool {
			return strings.Contains(l, "Server ready on port "+strconv.Itoa(gamePort))
		}), strings.Join(logs.Lines, "\n")
	})
	if logs.ID != id || len(logs.Lines) > 20 {
		t.Errorf("logs answer = id %q with %d lines, want id %s and at most 20 lines", logs.ID, len(logs.Lines), id)
	}
}

func TestSuspendStopsInstanceRefusesStartAndUnsuspendRunsItAgain(t *testing.T) {
	t.Parallel()
	c, _, id, _ := runningInstance(t)

	if in := c.expectInstance(t, http.StatusOK, http.MethodPost, "/api/instances/suspend/"+id, nil); !in.Suspended {
		t.Errorf("suspend answered %+v, want suspended", in)
	}
	c.waitContainer(t, id, false)
	c.waitInstance(t, id, "suspended instance stopped", func(in instance) bool { return in.Status == "stopped" })

	if code, b := c.power(t, id, "start"); code != http.StatusConflict || !strings.Contains(string(b), "suspended") {
		t.Errorf("start while suspended: %d %s, want 409 naming the suspension", code, b)
	}
	if code, b := c.power(t, id, "restart"); code != http.StatusConflict {
		t.Errorf("restart while suspended: %d %s, want 409", code, b)
	}
	if c.running(t, id) {
		t.Error("a refused start started the container")
	}

	if in := c.expectInstance(t, http.StatusOK, http.MethodPost, "/api/instances/unsuspend/"+id, nil); in.Suspended {
		t.Errorf("unsuspend answered %+v, want not suspended", in)
	}
	c.waitContainer(t, id, true)
	c.waitReadyAndRunning(t, id)
}

func TestPowerActionsThroughPanelDriveTheContainer(t *testing.T) {
	t.Parallel()
	c, n, id, hostPort := runningInstance(t)

	expectPower := func(action, status string) {
		t.Helper()
		code, b := c.power(t, id, action)
		var in instance
		if code != http.StatusOK || json.Unmarshal(b, &in) != nil {
			t.Fatalf("power %s: %d %s", action, code, b)
		}
		if in.Status != status {
			t.Errorf("power %s answered status %q, want %q", action, in.Status, status)
		}
		c.waitContainer(t, id, status == "running")
		c.waitInstance(t, id, "status "+status+" after "+action, func(in instance) bool { return in.Status == status })
	}

	expectPower("stop", "stopped")
	expectPower("start", "running")
	waitBanner(t, "tcp", hostPort)

	before := c.inspect(t, id).State.StartedAt
	expectPower("restart", "running")
	if after := c.inspect(t, id).State.StartedAt; after == before {
		t.Errorf("restart left the container started at %s", before)
	}
	waitBanner(t, "tcp", hostPort)

	expectPower("kill", "stopped")
	// Once the reconciler has had its turns, the killed game is still down:
	// a kill is a wish to stay stopped, not a crash to recover from.
	c.waitPasses(t, n)
	if c.running(t, id) {
		t.Error("killed instance runs again after reconcile passes")
	}
	if in := c.get(t, id); in.Status != "stopped" || in.InternalState != store.StateReady {
		t.Errorf("killed instance = %s, want READY/stopped", in.describe())
	}
}

func TestDeleteRemovesContainerAndDataAndFreesTheHostPort(t *testing.T) {
	t.Parallel()
	c, n, id, hostPort := runningInstance(t)
	data := filepath.Join(n.dir, "volumes", id)
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("data folder of a running instance: %v", err)
	}

	if code, b := c.call(t, http.MethodDelete, "/api/instance/delete", map[string]string{"id": id}); code/100 != 2 {
		t.Fatalf("delete: %d %s", code, b)
	}
	poll(t, "no container left for "+id, func() (bool, string) {
		list := dockertest.Containers(t, c.cli, id)
		return len(list) == 0, strconv.Itoa(len(list)) + " container(s)"
	})
	poll(t, "data folder "+data+" gone", func() (bool, string) {
		_, err := os.Stat(data)
		return errors.Is(err, fs.ErrNotExist), strconv.Quote(errString(err))
	})
	if code, b := c.call(t, http.MethodPost, "/api/getInstance", map[string]string{"id": id}); code/100 != 4 {
		t.Errorf("getInstance after delete: %d %s, want a 4xx", code, b)
	}

	again := c.deploy(t, n, c.image, hostPort)
	c.waitReadyAndRunning(t, again)
	waitBanner(t, "tcp", hostPort)
}

func TestDeployOfImageThatCannotBePulledFailsWithAPlainReason(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	// The image is missing from a registry of the test's own, which the
	// node is allowed to use: the engine asks it and no other address.
	registry := dockertest.NewRegistry(t, c.cli)
	n := c.addNodeOn(t, "node-a", []docker.Option{docker.AllowPrivateRegistries(true)})
	image := registry.Image("berth-test/missing:1")
	id := c.deploy(t, n, image, dockertest.FreePort(t))

	in := c.waitInstance(t, id, "FAILED", func(in instance) bool { return in.InternalState != store.StateInstalling })
	if in.InternalState != store.StateFailed {
		t.Fatalf("instance = %s, want FAILED", in.describe())
	}
	t.Logf("error: %s", in.Error)
	// The reason is in users' words; the engine's, which name the node's
	// requests and DNS server, stay in the node's log.
	if !strings.Contains(in.Error, "image "+image+" not found in any reachable registry") {
		t.Errorf("error %q does not say that %s was not found", in.Error, image)
	}
	if list := dockertest.Containers(t, c.cli, id); len(list) != 0 {
		t.Errorf("failed deploy left %d container(s)", len(list))
	}
	if registry.Connections() == 0 {
		t.Error("the engine never asked the test's registry for the image")
	}
}

func TestInstallOnUnreachableNodeTimesOutWithoutSlowingOtherNodes(t *testing.T) {
	t.Parallel()
	const installTimeout = 2 * time.Second
	c := newCluster(t, installTimeout)
	up := c.addNode(t, "node-up")
	down := c.addUnreachableNode(t, "node-down")
	healthy := c.deploy(t, up, c.image, dockertest.FreePort(t))
	deployed := time.Now()
	stranded := c.deploy(t, down, c.image, dockertest.FreePort(t))
	c.waitReadyAndRunning(t, healthy)
	c.expectFastList(t, healthy, "", stranded)

	in := c.waitInstance(t, stranded, "FAILED", func(in instance) bool { return in.InternalState != store.StateInstalling })
	if in.InternalState != store.StateFailed {
		t.Fatalf("instance on the unreachable node = %s, want FAILED", in.describe())
	}
	if waited := time.Since(deployed); waited < installTimeout {
		t.Errorf("failed after %s, before the install timeout of %s", waited, installTimeout)
	}
	for _, want := range []string{"install timed out", "node-down", "unreachable"} {
		if !strings.Contains(in.Error, want) {
			t.Errorf("error %q does not contain %q", in.Error, want)
		}
	}

	c.expectFastList(t, healthy, store.NodeOffline, stranded)
}

// expectFastList lists instances a few times, failing when an answer is
// slow, when live is not shown running on an online node, or, if
// downStatus is set, when stranded's node is not shown with that status.
func (c *cluster) expectFastList(t *testing.T, live, downStatus, stranded string) {
	t.Helper()
	for range 5 {
		start := time.Now()
		code, b := c.call(t, http.MethodGet, "/api/instances", nil)
		if took := time.Since(start); took > time.Second {
			t.Errorf("GET /api/instances took %s with a node down", took)
		}
		var list []instance
		if code != http.StatusOK || json.Unmarshal(b, &list) != nil {
			t.Fatalf("GET /api/instances: %d %s", code, b)
		}
		seen := 0
		for _, x := range list {
			switch x.ID {
			case live:
				seen++
				if x.Status != "running" || x.Node.Status != store.NodeOnline {
					t.Errorf("instance on the live node listed as %s on a %s node", x.describe(), x.Node.Status)
				}
			case stranded:
				seen++
				if downStatus != "" && x.Node.Status != downStatus {
					t.Errorf("instance on the unreachable node listed on a %s node, want %s", x.Node.Status, downStatus)
				}
			}
		}
		if seen != 2 {
			t.Errorf("GET /api/instances lists %d of the 2 instances: %s", seen, b)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "exists"
	}
	return err.Error()
}

func TestCrashLoopShowsExitCodeAndReasonOnTheInstance(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a", func(cfg *node.Config) { cfg.RestartDelay = 100 * time.Millisecond })
	hostPort := dockertest.FreePort(t)
	code, b := c.call(t, http.MethodPost, "/api/instances/deploy", map[string]any{
		"name": "crashing", "image": c.image, "memory": memoryMiB, "cpu": cpu,
		"ports": strconv.Itoa(gamePort) + ":" + strconv.Itoa(hostPort), "primary": strconv.Itoa(hostPort),
		"nodeId": n.id, "user": c.user, "variables": map[string]string{"GAMESERVER_EXIT_CODE": "3"},
	})
	var resp struct {
		Instance instance `json:"instance"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &resp) != nil {
		t.Fatalf("deploy: %d %s", code, b)
	}
	id := resp.Instance.ID
	c.mu.Lock()
	c.ids = append(c.ids, id)
	c.mu.Unlock()
	// The server exits with code 3 right after it is ready: a crash, one
	// restart, a second crash within the guard's window, then it stays
	// crashed, and the panel shows why.
	in := c.waitInstance(t, id, "crash-looping instance shown crashed with its exit code", func(in instance) bool {
		return in.Status == "crashed" && in.ExitCode == 3 && in.Error != ""
	})
	if in.InternalState != store.StateReady || in.OOMKilled {
		t.Errorf("crashed instance = %+v, want READY, not OOM-killed", in)
	}
}
