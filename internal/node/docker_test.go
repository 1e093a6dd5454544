package node

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/docker"
	"github.com/berth-dev/berth/internal/secret"
)

// These tests run the node API over the real Docker runtime: what the fake
// runtime lets the other tests assume, the engine confirms here.

// dockerGamePort is where the test game server listens in its container.
const dockerGamePort = 25565

// dockerNode is a daemon over the local Docker engine, with the game
// server image and a client to look at the engine directly.
type dockerNode struct {
	d     *Daemon
	dir   string
	rt    *docker.Runtime
	cli   *client.Client
	image string
	// tune, when set, adjusts each daemon's configuration.
	tune func(*Config)
}

func newDockerNode(t *testing.T) *dockerNode {
	t.Helper()
	return newTunedDockerNode(t, nil)
}

// newTunedDockerNode is newDockerNode with tune applied to the daemons'
// configuration.
func newTunedDockerNode(t testing.TB, tune func(*Config)) *dockerNode {
	t.Helper()
	cli := dockertest.RequireDocker(t)
	image := dockertest.GameServerImage(t)
	rt, err := docker.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	n := &dockerNode{dir: t.TempDir(), rt: rt, cli: cli, image: image, tune: tune}
	n.d = n.restart(t)
	return n
}

// restart builds a new daemon over the same data folder and runtime, as a
// node process that was stopped and started again would; the daemon before
// it, if any, is closed first, as that process would have ended.
func (n *dockerNode) restart(t testing.TB) *Daemon {
	t.Helper()
	if n.d != nil {
		n.d.Close()
	}
	d, err := New(n.config(), n.rt, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// config is the daemons' configuration: short waits, so tests stay quick.
func (n *dockerNode) config() Config {
	cfg := Config{Dir: n.dir, TokenSHA256: secret.Hash(testToken), Version: "test", StopTimeout: 10 * time.Second,
		RestartDelay: 200 * time.Millisecond}
	if n.tune != nil {
		n.tune(&cfg)
	}
	return cfg
}

// spec is a valid spec of a fresh instance running the game server on a
// free host port; its containers are removed when the test ends.
func (n *dockerNode) spec(t testing.TB) nodeapi.InstanceSpec {
	t.Helper()
	id := dockertest.InstanceID(t)
	dockertest.Cleanup(t, n.cli, id)
	return nodeapi.InstanceSpec{
		ID:          id,
		Generation:  1,
		Image:       n.image,
		MemoryMiB:   64,
		CPU:         0.5,
		Ports:       []nodeapi.Port{{Container: dockerGamePort, Host: dockertest.FreePort(t)}},
		PrimaryPort: dockerGamePort,
		Desired:     nodeapi.DesiredRunning,
	}
}

// expectNothingCreated fails unless the node neither created a container
// for id nor kept its spec.
func (n *dockerNode) expectNothingCreated(t *testing.T, d *Daemon, id string) {
	t.Helper()
	if list := dockertest.Containers(t, n.cli, id); len(list) != 0 {
		t.Errorf("a rejected request left %d container(s) for %s: %+v", len(list), id, list)
	}
	if w := call(t, d, http.MethodGet, "/v1/instances/"+id, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET %s after a rejected request: %d %s, want 404", id, w.Code, w.Body)
	}
}

// runningContainer returns id's only container, failing unless it runs.
func (n *dockerNode) runningContainer(t *testing.T, id string) container.Summary {
	t.Helper()
	list := dockertest.Containers(t, n.cli, id)
	if len(list) != 1 {
		t.Fatalf("%s has %d containers, want 1: %+v", id, len(list), list)
	}
	if list[0].State != container.StateRunning {
		t.Fatalf("container of %s is %q, want running", id, list[0].State)
	}
	return list[0]
}

func TestDockerNodeRejectsMissingOrWrongTokenAndCreatesNothing(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	for _, tc := range []struct {
		name, token string
	}{
		{"no token", ""},
		{"wrong token", "not-" + testToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := n.spec(t)
			w := callWithToken(t, n.d, http.MethodPut, "/v1/instances/"+spec.ID, spec, tc.token)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("PUT with %s: %d %s, want 401", tc.name, w.Code, w.Body)
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
			n.expectNothingCreated(t, n.d, spec.ID)
		})
	}
}

func TestDockerNodeRejectsMalformedSpecsWith400AndCreatesNothing(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	cases := []struct {
		name   string
		mutate func(*nodeapi.InstanceSpec)
		raw    func(id string) string // sent instead of the spec when set
		field  string                 // must appear in the error text
	}{
		{name: "id differs from path", mutate: func(s *nodeapi.InstanceSpec) { s.ID += "-other" }, field: "id"},
		{name: "empty image", mutate: func(s *nodeapi.InstanceSpec) { s.Image = "" }, field: "image"},
		{name: "image with space", mutate: func(s *nodeapi.InstanceSpec) { s.Image = "a b" }, field: "image"},
		{name: "zero memory", mutate: func(s *nodeapi.InstanceSpec) { s.MemoryMiB = 0 }, field: "memoryMiB"},
		{name: "negative cpu", mutate: func(s *nodeapi.InstanceSpec) { s.CPU = -1 }, field: "cpu"},
		{name: "no ports", mutate: func(s *nodeapi.InstanceSpec) { s.Ports = nil }, field: "ports"},
		{name: "host port too big", mutate: func(s *nodeapi.InstanceSpec) { s.Ports[0].Host = 65536 }, field: "ports[0].host"},
		{name: "host port twice", mutate: func(s *nodeapi.InstanceSpec) {
			s.Ports = append(s.Ports, nodeapi.Port{Container: 25575, Host: s.Ports[0].Host})
		}, field: "ports[1].host"},
		{name: "primary port not published", mutate: func(s *nodeapi.InstanceSpec) { s.PrimaryPort = 1234 }, field: "primaryPort"},
		{name: "env name with =", mutate: func(s *nodeapi.InstanceSpec) { s.Env = map[string]string{"A=B": "c"} }, field: "env"},
		{name: "relative mount path", mutate: func(s *nodeapi.InstanceSpec) { s.MountPath = "data" }, field: "mountPath"},
		{name: "desired paused", mutate: func(s *nodeapi.InstanceSpec) { s.Desired = "paused" }, field: "desired"},
		{name: "malformed JSON", raw: func(id string) string { return `{"id":"` + id + `",` }, field: "JSON"},
		{name: "empty body", raw: func(string) string { return "" }, field: "body"},
		{name: "memory as string", raw: func(id string) string { return `{"id":"` + id + `","memoryMiB":"64"}` }, field: "memoryMiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := n.spec(t)
			var body any
			if tc.raw != nil {
				body = tc.raw(spec.ID)
			} else {
				tc.mutate(&spec)
				body = spec
			}
			id := strings.TrimSuffix(spec.ID, "-other")
			w := call(t, n.d, http.MethodPut, "/v1/instances/"+id, body)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("PUT: %d %s, want 400", w.Code, w.Body)
			}
			if msg := errorText(t, w); !strings.Contains(msg, tc.field) {
				t.Errorf("error %q does not name %q", msg, tc.field)
			}
			n.expectNothingCreated(t, n.d, id)
		})
	}
}

func TestDockerNodeEnsureCreatesAndStartsOnceAndAgainKeepsTheContainer(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	spec := n.spec(t)

	first := ensureOK(t, n.d, spec)
	if first.Status != nodeapi.StatusRunning || !first.Running || first.ContainerID == "" || first.Generation != 1 {
		t.Fatalf("first PUT = %+v, want running generation 1 with a container", first)
	}
	c := n.runningContainer(t, spec.ID)
	if c.ID != first.ContainerID {
		t.Errorf("engine has container %s, node reported %s", c.ID, first.ContainerID)
	}
	if want := "/" + docker.ContainerName(spec.ID); len(c.Names) != 1 || c.Names[0] != want {
		t.Errorf("container names = %q, want [%s]", c.Names, want)
	}

	again := ensureOK(t, n.d, spec)
	if again.ContainerID != first.ContainerID || !again.StartedAt.Equal(first.StartedAt) || again.Status != nodeapi.StatusRunning {
		t.Errorf("second PUT = %+v, want the same running container %s started at %s",
			again, first.ContainerID, first.StartedAt)
	}
	if c := n.runningContainer(t, spec.ID); c.ID != first.ContainerID {
		t.Errorf("second PUT left container %s, want %s", c.ID, first.ContainerID)
	}
}

func TestDockerNodeRestartedDaemonKeepsInstanceRunningInSameContainer(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	spec := n.spec(t)
	before := ensureOK(t, n.d, spec)

	second := n.restart(t)
	after := getStatus(t, second, spec.ID)
	if after.Status != nodeapi.StatusRunning || !after.Running || after.ContainerID != before.ContainerID ||
		!after.StartedAt.Equal(before.StartedAt) || after.Generation != before.Generation {
		t.Errorf("after restart = %+v, want running in container %s started at %s, generation %d",
			after, before.ContainerID, before.StartedAt, before.Generation)
	}
	list := decode[[]nodeapi.InstanceStatus](t, call(t, second, http.MethodGet, "/v1/instances", nil))
	found := false
	for _, st := range list {
		if st.ID == spec.ID {
			found = true
			if st.ContainerID != before.ContainerID || st.Status != nodeapi.StatusRunning {
				t.Errorf("listed after restart as %+v, want running in %s", st, before.ContainerID)
			}
		}
	}
	if !found {
		t.Errorf("restarted daemon does not list %s: %+v", spec.ID, list)
	}
	if c := n.runningContainer(t, spec.ID); c.ID != before.ContainerID {
		t.Errorf("engine runs container %s after the restart, want %s", c.ID, before.ContainerID)
	}

	// The restarted daemon applies the same spec without touching the game.
	again := ensureOK(t, second, spec)
	if again.ContainerID != before.ContainerID || !again.StartedAt.Equal(before.StartedAt) {
		t.Errorf("PUT after restart = %+v, want container %s untouched", again, before.ContainerID)
	}
}

func TestDockerNodePublishesOneContainerPortOnTwoHostPorts(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	spec := n.spec(t)
	spec.Ports = append(spec.Ports, nodeapi.Port{Container: dockerGamePort, Host: dockertest.FreePort(t)})
	if st := ensureOK(t, n.d, spec); st.Status != nodeapi.StatusRunning {
		t.Fatalf("PUT = %+v, want running", st)
	}
	for _, p := range spec.Ports {
		waitFor(t, "game banner on host port "+strconv.Itoa(p.Host), func() bool {
			line, err := dockertest.ReadBanner("tcp", p.Host)
			return err == nil && strings.HasPrefix(line, "berth-gameserver ")
		})
	}
}
