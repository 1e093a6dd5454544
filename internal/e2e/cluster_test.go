package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// Timing of the harness. Every wait is a poll with a deadline.
const (
	pollInterval = 100 * time.Millisecond
	// startTimeout bounds a panel or node process becoming ready.
	startTimeout = 30 * time.Second
	// readyTimeout bounds a deploy reaching READY and running.
	readyTimeout = 90 * time.Second
	// requestTimeout bounds one API call of the harness.
	requestTimeout = 15 * time.Second
	// exitTimeout bounds a process's exit after a signal.
	exitTimeout = 30 * time.Second
)

// gamePort is the port the game server listens on inside its container.
const gamePort = 25565

// Limits of every deployed instance, shared by the docker run benchmarks so
// that both sides start the same container.
const (
	instanceMemoryMiB = 64
	instanceCPU       = 0.5
	// instancePids is what the node gives an instance whose spec names no
	// pids limit, as every deploy's does.
	instancePids = docker.DefaultPidsLimit
)

// clusterOptions shapes a cluster.
type clusterOptions struct {
	// nodes is how many node daemons run; zero means two.
	nodes int
	// installTimeout is the panel's -install-timeout; zero keeps the
	// panel's default.
	installTimeout time.Duration
	// database is the panel's -database; empty is SQLite in its folder.
	database string
}

// cluster is one `berth panel` and its `berth node` daemons, each a
// separate process on loopback, with an API key and a user to deploy for.
type cluster struct {
	tb     testing.TB
	dir    string
	docker *client.Client
	// image is the game server image every deploy runs.
	image string

	panelDir  string
	panelArgs []string
	url       string
	key       string
	userID    string
	panel     *process
	nodes     []*node
	http      *http.Client

	mu sync.Mutex
	// procs is every process started, live or not, for cleanup and logs.
	procs []*process
	// ids is every instance the test deployed or saw in the panel.
	ids map[string]bool
}

// node is one node record and the daemon that serves it.
type node struct {
	name string
	id   string
	dir  string
	port int
	proc *process
}

// newCluster starts a panel on a fresh data folder, creates and configures
// opts.nodes nodes and starts their daemons, and waits until the panel sees
// every node Online. Everything is stopped, and every container its nodes
// made removed, when the test ends.
func newCluster(tb testing.TB, opts clusterOptions) *cluster {
	tb.Helper()
	if opts.nodes == 0 {
		opts.nodes = 2
	}
	c := &cluster{
		tb:     tb,
		dir:    tb.TempDir(),
		docker: dockertest.RequireDocker(tb),
		image:  dockertest.GameServerImage(tb),
		http:   &http.Client{Timeout: requestTimeout},
		ids:    map[string]bool{},
	}
	// Registered after TempDir's cleanup, so it runs first: processes stop
	// and containers go before the folders they write to.
	tb.Cleanup(c.cleanup)
	if err := os.MkdirAll(filepath.Join(c.dir, "logs"), 0o750); err != nil {
		tb.Fatal(err)
	}
	c.panelDir = filepath.Join(c.dir, "panel")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(dockertest.FreePort(tb)))
	c.url = "http://" + addr
	c.panelArgs = []string{"panel", "-listen", addr, "-data", c.panelDir}
	if opts.installTimeout > 0 {
		c.panelArgs = append(c.panelArgs, "-install-timeout", opts.installTimeout.String())
	}
	keyArgs := []string{"apikey", "create", "-name", "e2e", "-data", c.panelDir}
	if opts.database != "" {
		c.panelArgs = append(c.panelArgs, "-database", opts.database)
		keyArgs = append(keyArgs, "-database", opts.database)
	}
	c.key = lastLine(c.runBerth(keyArgs...))
	if !strings.HasPrefix(c.key, "berth_") {
		tb.Fatalf("apikey create: last line %q is not an API key", c.key)
	}
	c.startPanel()

	var user struct {
		UserID string `json:"userId"`
	}
	c.mustCall(http.MethodPost, "/api/auth/create-user", map[string]any{
		"username": "e2e", "email": "e2e@example.com", "password": "e2e-password",
	}, http.StatusCreated, &user)
	c.userID = user.UserID

	ports := freePorts(tb, opts.nodes)
	for i := range opts.nodes {
		n := &node{name: string(rune('a' + i)), dir: filepath.Join(c.dir, "node-"+string(rune('a'+i))), port: ports[i]}
		var created struct {
			ID           string `json:"id"`
			ConfigureKey string `json:"configureKey"`
		}
		c.mustCall(http.MethodPost, "/api/nodes/create", map[string]any{
			"name": "node-" + n.name, "ram": "64G", "disk": "100G", "processor": "e2e",
			"address": "127.0.0.1", "port": n.port,
		}, http.StatusCreated, &created)
		n.id = created.ID
		c.runBerth("node", "configure", "-panel", c.url, "-key", created.ConfigureKey, "-data", n.dir)
		c.nodes = append(c.nodes, n)
		c.startNode(n)
	}
	for _, n := range c.nodes {
		c.waitNodeStatus(n, "Online", startTimeout)
	}
	return c
}

// runBerth runs a short berth command to completion and returns its
// standard output.
func (c *cluster) runBerth(args ...string) string {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Env = processEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.tb.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// processEnv is the test's environment without BERTH_ settings, so that a
// developer's own configuration cannot change what the processes do.
func processEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "BERTH_") })
}

// process is one running berth command whose output goes to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// done is closed once the process has exited.
	done chan struct{}
}

// start runs berth with args in the background.
func (c *cluster) start(name string, args ...string) *process {
	c.tb.Helper()
	c.mu.Lock()
	logPath := filepath.Join(c.dir, "logs", fmt.Sprintf("%02d-%s.log", len(c.procs), name))
	c.mu.Unlock()
	f, err := os.Create(logPath)
	if err != nil {
		c.tb.Fatal(err)
	}
	cmd := exec.Command(berthBin, args...)
	cmd.Env = processEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		c.tb.Fatalf("start berth %s: %v", strings.Join(args, " "), err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	// The goroutine ends when the process does; cleanup makes sure it does.
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig and waits for the process to exit.
func (c *cluster) signal(p *process, sig syscall.Signal) {
	c.tb.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !p.exited() {
		c.tb.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		_ = p.cmd.Process.Kill()
		c.tb.Fatalf("%s did not exit within %s of %s", p.name, exitTimeout, sig)
	}
}

// startPanel starts the panel and waits until /healthz answers 200.
func (c *cluster) startPanel() {
	c.tb.Helper()
	c.panel = c.startPanelAt(c.url, c.panelArgs)
}

// startPanelAt starts a panel with args, serving at url, and waits until
// its /healthz answers 200.
func (c *cluster) startPanelAt(url string, args []string) *process {
	c.tb.Helper()
	p := c.start("panel", args...)
	c.eventually(startTimeout, "the panel at "+url+" to answer /healthz", func() (bool, string) {
		if p.exited() {
			c.tb.Fatalf("the panel exited at start:\n%s", tail(p.logPath, 30))
		}
		resp, err := c.http.Get(url + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

// killPanel kills the panel with SIGKILL: no shutdown code runs.
func (c *cluster) killPanel() {
	c.tb.Helper()
	c.signal(c.panel, syscall.SIGKILL)
}

// startNode starts n's daemon and waits until it accepts connections.
func (c *cluster) startNode(n *node) {
	c.tb.Helper()
	// Several nodes share this machine: each serves SFTP on a port of its
	// own, not on the default one.
	p := c.start("node-"+n.name, "node", "-data", n.dir, "-sftp-listen", "127.0.0.1:0")
	n.proc = p
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
	c.eventually(startTimeout, "node "+n.name+" to listen on "+addr, func() (bool, string) {
		if p.exited() {
			c.tb.Fatalf("node %s exited at start:\n%s", n.name, tail(p.logPath, 30))
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// cleanup stops every process, removes the containers of the test's
// instances and of its nodes, and reports a data race any process logged.
func (c *cluster) cleanup() {
	c.mu.Lock()
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	remove := map[string]bool{}
	if own, err := c.ownContainers(ctx); err != nil {
		c.tb.Errorf("cleanup: %v", err)
	} else {
		for _, s := range own {
			remove[s.ID] = true
		}
	}
	c.mu.Lock()
	ids := make([]string, 0, len(c.ids))
	for id := range c.ids {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		list, err := c.containersOf(ctx, id)
		if err != nil {
			c.tb.Errorf("cleanup: %v", err)
		}
		for _, s := range list {
			remove[s.ID] = true
		}
	}
	for id := range remove {
		if _, err := c.docker.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
			c.tb.Errorf("cleanup: remove container %s: %v", id, err)
		}
	}
	for _, p := range procs {
		b, _ := os.ReadFile(p.logPath)
		if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			c.tb.Errorf("%s reported a data race:\n%s", p.name, b)
		} else if c.tb.Failed() {
			c.tb.Logf("last lines of %s (%s):\n%s", p.name, filepath.Base(p.logPath), tail(p.logPath, 40))
		}
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// eventually polls check until it reports done, failing the test with the
// last state check described when timeout passes first.
func (c *cluster) eventually(timeout time.Duration, what string, check func() (done bool, state string)) {
	c.tb.Helper()
	eventually(c.tb, timeout, what, check)
}

func eventually(tb testing.TB, timeout time.Duration, what string, check func() (done bool, state string)) {
	tb.Helper()
	eventuallyEvery(tb, pollInterval, timeout, what, check)
}

// eventuallyEvery is eventually polling every interval.
func eventuallyEvery(tb testing.TB, interval, timeout time.Duration, what string, check func() (done bool, state string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %s for %s; last state: %s", timeout, what, state)
		}
		<-tick.C
	}
}

// freePorts returns n distinct ports free for TCP and UDP.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	seen := map[int]bool{}
	list := make([]int, 0, n)
	for len(list) < n {
		p := dockertest.FreePort(tb)
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	return list
}

// call sends an API request with the cluster's key, body as JSON when not
// nil, and decodes a JSON answer into out when out is not nil. It returns
// the status, or the transport error.
func (c *cluster) call(method, path string, body, out any) (int, error) {
	return c.callAt(c.url, c.key, method, path, body, out)
}

// callAt is call to the panel at base with key.
func (c *cluster) callAt(base, key, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("x-api-key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %s: %w", method, path, raw, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, &statusError{status: resp.StatusCode, body: string(raw)}
	}
	return resp.StatusCode, nil
}

// statusError is an answer that is not a success.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// mustCall is call that fails the test unless the answer has status want.
func (c *cluster) mustCall(method, path string, body any, want int, out any) {
	c.tb.Helper()
	status, err := c.call(method, path, body, out)
	var se *statusError
	if err != nil && !errors.As(err, &se) {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		c.tb.Fatalf("%s %s = %v, want status %d", method, path, err, want)
	}
}

// instance is the part of the API's instance shape the tests read.
type instance struct {
	ID   string `json:"Id"`
	Node struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"Node"`
	Ports         string `json:"Ports"`
	InternalState string `json:"InternalState"`
	Status        string `json:"Status"`
	Error         string `json:"Error"`
	ContainerID   string `json:"ContainerId"`
	Suspended     bool   `json:"suspended"`
}

func (in instance) String() string {
	s := fmt.Sprintf("%s on %s (%s): %s/%s container %.12s", in.ID, in.Node.Name, in.Node.Status, in.InternalState,
		in.Status, in.ContainerID)
	if in.Error != "" {
		s += " error: " + in.Error
	}
	return s
}

// deployBody asks for one game server on n, published on hostPort.
func (c *cluster) deployBody(n *node, hostPort int) map[string]any {
	return map[string]any{
		"name": "e2e-" + strconv.Itoa(hostPort), "image": c.image, "memory": instanceMemoryMiB, "cpu": instanceCPU,
		"ports": fmt.Sprintf("%d:%d", gamePort, hostPort), "primary": strconv.Itoa(gamePort),
		"nodeId": n.id, "user": c.userID,
	}
}

// tryDeploy posts a deploy to n and returns the status and, on 201, the
// new instance's id. It may run on any goroutine.
func (c *cluster) tryDeploy(n *node, hostPort int) (int, string, error) {
	var res struct {
		State    string   `json:"state"`
		Instance instance `json:"instance"`
	}
	status, err := c.call(http.MethodPost, "/api/instances/deploy", c.deployBody(n, hostPort), &res)
	if err != nil || status != http.StatusCreated {
		return status, "", err
	}
	c.remember(res.Instance.ID)
	if res.State != "INSTALLING" || res.Instance.InternalState != "INSTALLING" {
		return status, res.Instance.ID, fmt.Errorf("deploy %s answered state %q, instance %s; want INSTALLING",
			res.Instance.ID, res.State, res.Instance)
	}
	return status, res.Instance.ID, nil
}

// deploy is tryDeploy that fails the test unless the deploy is accepted.
func (c *cluster) deploy(n *node, hostPort int) string {
	c.tb.Helper()
	status, id, err := c.tryDeploy(n, hostPort)
	if err != nil || status != http.StatusCreated {
		c.tb.Fatalf("deploy to node %s on port %d = %d, %v; want 201", n.name, hostPort, status, err)
	}
	return id
}

// remember records an instance id for cleanup.
func (c *cluster) remember(id string) {
	c.mu.Lock()
	c.ids[id] = true
	c.mu.Unlock()
}

// instance reads one instance through POST /api/getInstance.
func (c *cluster) instance(id string) instance {
	c.tb.Helper()
	var in instance
	c.mustCall(http.MethodPost, "/api/getInstance", map[string]string{"id": id}, http.StatusOK, &in)
	return in
}

// instances reads GET /api/instances, by id.
func (c *cluster) instances() map[string]instance {
	c.tb.Helper()
	var list []instance
	c.mustCall(http.MethodGet, "/api/instances", nil, http.StatusOK, &list)
	byID := make(map[string]instance, len(list))
	for _, in := range list {
		byID[in.ID] = in
		c.remember(in.ID)
	}
	return byID
}

// waitRunning waits until every instance in ids is READY and running,
// failing at once when one turns FAILED, and returns them.
func (c *cluster) waitRunning(timeout time.Duration, ids ...string) map[string]instance {
	c.tb.Helper()
	return c.waitRunningEvery(pollInterval, timeout, ids...)
}

// waitRunningEvery is waitRunning polling every interval.
func (c *cluster) waitRunningEvery(interval, timeout time.Duration, ids ...string) map[string]instance {
	c.tb.Helper()
	var all map[string]instance
	eventuallyEvery(c.tb, interval, timeout, fmt.Sprintf("%d instances to be READY and running", len(ids)), func() (bool, string) {
		all = c.instances()
		var waiting []string
		for _, id := range ids {
			in, ok := all[id]
			switch {
			case !ok:
				c.tb.Fatalf("instance %s is missing from GET /api/instances", id)
			case in.InternalState == "FAILED":
				c.tb.Fatalf("instance %s", in)
			case in.InternalState != "READY" || in.Status != "running":
				waiting = append(waiting, in.String())
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
	return all
}

// waitInstance polls POST /api/getInstance until ok holds.
func (c *cluster) waitInstance(id string, timeout time.Duration, what string, ok func(instance) bool) instance {
	c.tb.Helper()
	var in instance
	c.eventually(timeout, "instance "+id+" "+what, func() (bool, string) {
		in = c.instance(id)
		return ok(in), in.String()
	})
	return in
}

// waitNodeStatus waits until GET /api/nodes shows n with status.
func (c *cluster) waitNodeStatus(n *node, status string, timeout time.Duration) {
	c.tb.Helper()
	c.eventually(timeout, "node "+n.name+" to be "+status, func() (bool, string) {
		got := c.nodeRecord(n).Status
		return got == status, got
	})
}

// nodeRecord is the part of the API's node shape the tests read.
type nodeRecord struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	LastSeen string `json:"lastSeen"`
}

// nodeRecord reads n as GET /api/nodes shows it.
func (c *cluster) nodeRecord(n *node) nodeRecord {
	c.tb.Helper()
	var list []nodeRecord
	c.mustCall(http.MethodGet, "/api/nodes", nil, http.StatusOK, &list)
	for _, got := range list {
		if got.ID == n.id {
			return got
		}
	}
	c.tb.Fatalf("node %s is not listed by GET /api/nodes", n.name)
	return nodeRecord{}
}

// deleteInstance deletes an instance through the API and waits until its
// node has removed the container.
func (c *cluster) deleteInstance(id string, timeout time.Duration) {
	c.tb.Helper()
	c.mustCall(http.MethodDelete, "/api/instance/delete", map[string]string{"id": id}, http.StatusCreated, nil)
	c.eventually(timeout, "the container of "+id+" to be removed", func() (bool, string) {
		list := c.mustContainersOf(id)
		return len(list) == 0, fmt.Sprintf("%d containers", len(list))
	})
}

// containersOf lists the containers labelled for instance id, running or
// not: docker ps -a --filter label=berth.instance=<id>.
func (c *cluster) containersOf(ctx context.Context, id string) ([]container.Summary, error) {
	res, err := c.docker.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", runtime.LabelInstance+"="+id),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", id, err)
	}
	return res.Items, nil
}

// mustContainersOf is containersOf that fails the test on an engine error.
func (c *cluster) mustContainersOf(id string) []container.Summary {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	list, err := c.containersOf(ctx, id)
	if err != nil {
		c.tb.Fatal(err)
	}
	return list
}

// ownContainers lists the Berth containers whose data folder lies in this
// cluster's folder: everything this cluster's nodes created, whichever
// instance it is for, and nothing another test made.
func (c *cluster) ownContainers(ctx context.Context) ([]container.Summary, error) {
	res, err := c.docker.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", runtime.LabelManaged+"=true"),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var own []container.Summary
	for _, s := range res.Items {
		for _, m := range s.Mounts {
			if strings.HasPrefix(m.Source, c.dir+string(filepath.Separator)) {
				own = append(own, s)
				break
			}
		}
	}
	return own, nil
}

// inspect returns a container's details.
func (c *cluster) inspect(containerID string) container.InspectResponse {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	res, err := c.docker.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{})
	if err != nil {
		c.tb.Fatalf("inspect container %s: %v", containerID, err)
	}
	return res.Container
}

// soleContainer returns the one container of instance id, failing the test
// when there is none or more than one.
func (c *cluster) soleContainer(id string) container.InspectResponse {
	c.tb.Helper()
	list := c.mustContainersOf(id)
	if len(list) != 1 {
		c.tb.Fatalf("instance %s has %d containers, want exactly 1", id, len(list))
	}
	return c.inspect(list[0].ID)
}

// bannerPrefix starts the line the game server sends each connection.
const bannerPrefix = "berth-gameserver "

// bannerTimeout bounds one attempt to read the banner. It is short because
// Docker's userland proxy accepts a connection as soon as the container
// starts, and one made before the container's network is up hangs: a new
// attempt gets through sooner than waiting that one out.
const bannerTimeout = 200 * time.Millisecond

// readBanner connects to the game server on a host port and reads its
// banner. Since the proxy accepts before the server listens, only the
// banner proves it answers.
func readBanner(port int) error {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bannerTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(bannerTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read banner: %w", err)
	}
	if !strings.HasPrefix(line, bannerPrefix) {
		return fmt.Errorf("banner is %q", line)
	}
	return nil
}

// waitBanner polls a host port until the game server's banner answers.
func waitBanner(ctx context.Context, port int) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := readBanner(port)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %d: no banner: %w", port, err)
		case <-tick.C:
		}
	}
}

// mustAnswer fails the test unless the game server on port answers within
// timeout.
func mustAnswer(tb testing.TB, port int, timeout time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := waitBanner(ctx, port); err != nil {
		tb.Fatal(err)
	}
}

// hostPort reads the host port of an instance's "container:host" Ports.
func hostPort(tb testing.TB, in instance) int {
	tb.Helper()
	_, h, ok := strings.Cut(in.Ports, ":")
	p, err := strconv.Atoi(h)
	if !ok || err != nil {
		tb.Fatalf("instance %s: cannot read the host port of %q", in.ID, in.Ports)
	}
	return p
}
