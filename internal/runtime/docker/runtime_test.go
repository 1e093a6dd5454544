package docker_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// waitLimit bounds every poll in these tests.
const waitLimit = 30 * time.Second

// gamePort is the port the game server listens on inside its container.
const gamePort = 25565

// fixture is a Runtime on the local engine, with the game server image.
type fixture struct {
	rt    *docker.Runtime
	cli   *client.Client
	image string
}

func newFixture(t *testing.T, opts ...docker.Option) *fixture {
	t.Helper()
	cli := dockertest.RequireDocker(t)
	image := dockertest.GameServerImage(t)
	rt, err := docker.New(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return &fixture{rt: rt, cli: cli, image: image}
}

// spec describes a fresh game server instance whose containers are removed
// when the test ends.
func (f *fixture) spec(t *testing.T) runtime.Spec {
	t.Helper()
	id := dockertest.InstanceID(t)
	dockertest.Cleanup(t, f.cli, id)
	return runtime.Spec{
		InstanceID: id,
		Image:      f.image,
		MemoryMiB:  64,
		CPU:        0.5,
		PidsLimit:  100,
		Env:        []string{"PRIMARY_PORT=" + strconv.Itoa(gamePort)},
		DataDir:    t.TempDir(),
	}
}

// ensure creates the container for spec and fails the test on error.
func (f *fixture) ensure(t *testing.T, spec runtime.Spec) runtime.State {
	t.Helper()
	st, err := f.rt.Ensure(t.Context(), spec, nil)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return st
}

// startReady creates and starts spec's container and waits for the game to
// say it is ready.
func (f *fixture) startReady(t *testing.T, spec runtime.Spec) runtime.State {
	t.Helper()
	st := f.ensure(t, spec)
	if err := f.rt.Start(t.Context(), spec.InstanceID); err != nil {
		t.Fatalf("Start: %v", err)
	}
	f.waitLog(t, spec.InstanceID, "Server ready on port "+strconv.Itoa(gamePort))
	return st
}

// waitLog polls the container's logs until a line contains want.
func (f *fixture) waitLog(t *testing.T, id, want string) {
	t.Helper()
	var lines []string
	poll(t, "log line "+strconv.Quote(want), func() (bool, error) {
		var err error
		lines, err = f.rt.Logs(t.Context(), id, 0)
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) }), err
	}, func() string { return strings.Join(lines, "\n") })
}

// attach connects to the instance's console until the test ends.
func (f *fixture) attach(t *testing.T, id string) runtime.Console {
	t.Helper()
	con, err := f.rt.Attach(t.Context(), id)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	t.Cleanup(func() { _ = con.Close() })
	return con
}

// waitExited polls until the container is no longer running.
func (f *fixture) waitExited(t *testing.T, id string) runtime.State {
	t.Helper()
	var st runtime.State
	poll(t, "container exit", func() (bool, error) {
		var err error
		st, err = f.rt.Inspect(t.Context(), id)
		return err == nil && !st.Running, err
	}, func() string { return st.Status })
	return st
}

// poll calls done until it reports true, failing the test when it errors
// or when waitLimit passes; describe says what was last seen.
func poll(t *testing.T, what string, done func() (bool, error), describe func() string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; last seen:\n%s", what, waitLimit, describe())
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		}
	}
}

func TestEnsureCreatesLimitedContainerAndStopCommandStopsIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	hostPort := dockertest.FreePort(t)
	spec.Ports = []runtime.PortBinding{{Container: gamePort, Host: hostPort}}

	st := f.startReady(t, spec)
	if st.InstanceID != spec.InstanceID || st.SpecHash != docker.SpecHash(spec) || st.Image != f.image {
		t.Errorf("Ensure state = %+v, want instance %s, hash %s, image %s", st, spec.InstanceID, docker.SpecHash(spec), f.image)
	}

	res, err := f.cli.ContainerInspect(t.Context(), docker.ContainerName(spec.InstanceID), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Container
	hc := c.HostConfig
	const mib = 1 << 20
	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"Memory is 64 MiB", hc.Memory == 64*mib, hc.Memory},
		{"MemorySwap equals Memory", hc.MemorySwap == 64*mib, hc.MemorySwap},
		{"NanoCPUs is 0.5 core", hc.NanoCPUs == 5e8, hc.NanoCPUs},
		{"PidsLimit is 100", hc.PidsLimit != nil && *hc.PidsLimit == 100, hc.PidsLimit},
		{"CapDrop has net_raw", hasCap(hc.CapDrop, "net_raw"), hc.CapDrop},
		{"CapDrop has dac_override", hasCap(hc.CapDrop, "dac_override"), hc.CapDrop},
		{"SecurityOpt has no-new-privileges", slices.Contains(hc.SecurityOpt, "no-new-privileges"), hc.SecurityOpt},
		{"root filesystem is read-only", hc.ReadonlyRootfs, hc.ReadonlyRootfs},
		{"/tmp is a bounded tmpfs", hc.Tmpfs["/tmp"] == "rw,exec,nosuid,size=100m", hc.Tmpfs},
		{"logs are bounded", hc.LogConfig.Type == "json-file" && hc.LogConfig.Config["max-size"] == "5m" &&
			hc.LogConfig.Config["max-file"] == "2", hc.LogConfig},
		{"restart policy is none", hc.RestartPolicy.IsNone(), hc.RestartPolicy},
		{"TTY and open stdin", c.Config.Tty && c.Config.OpenStdin && c.Config.AttachStdin, c.Config},
		{"working dir is the mount path", c.Config.WorkingDir == runtime.DefaultMountPath, c.Config.WorkingDir},
		{"managed label", c.Config.Labels[runtime.LabelManaged] == "true", c.Config.Labels},
		{"instance label", c.Config.Labels[runtime.LabelInstance] == spec.InstanceID, c.Config.Labels},
		{"data dir mounted", slices.ContainsFunc(c.Mounts, func(m container.MountPoint) bool {
			return m.Source == spec.DataDir && m.Destination == runtime.DefaultMountPath && m.RW
		}), c.Mounts},
	}
	for _, proto := range []network.IPProtocol{network.TCP, network.UDP} {
		port, _ := network.PortFrom(gamePort, proto)
		b := hc.PortBindings[port]
		checks = append(checks, struct {
			name string
			ok   bool
			got  any
		}{"port binding " + port.String(), len(b) == 1 && b[0].HostPort == strconv.Itoa(hostPort), hc.PortBindings})
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}

	for _, proto := range []string{"tcp", "udp"} {
		var banner string
		poll(t, proto+" banner on host port "+strconv.Itoa(hostPort), func() (bool, error) {
			line, err := dockertest.ReadBanner(proto, hostPort)
			banner = line
			return err == nil && strings.HasPrefix(line, "berth-gameserver "), nil
		}, func() string { return banner })
	}

	ready, err := os.ReadFile(filepath.Join(spec.DataDir, "ready.txt"))
	if err != nil || strings.TrimSpace(string(ready)) != strconv.Itoa(gamePort) {
		t.Errorf("ready.txt in data dir = %q, %v; want the game port", ready, err)
	}
}

// hasCap reports whether caps names capability, in any of Docker's
// spellings (net_raw, NET_RAW, CAP_NET_RAW).
func hasCap(caps []string, name string) bool {
	return slices.ContainsFunc(caps, func(c string) bool {
		return strings.EqualFold(strings.TrimPrefix(strings.ToUpper(c), "CAP_"), name)
	})
}

func TestStopEndsTheGame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		stopCommand string
		timeout     time.Duration
		wantExit    int
		wantLog     string
	}{
		{"console command", "stop", 20 * time.Second, 0, "Stopping server"},
		{"empty sends SIGTERM", "", 20 * time.Second, 0, "Stopping server (signal)"},
		{"^SIGINT sends SIGINT", "^SIGINT", 20 * time.Second, 0, "Stopping server (signal)"},
		{"^C sends SIGINT", "^C", 20 * time.Second, 0, "Stopping server (signal)"},
		{"ignored command is followed by SIGTERM", "nonsense", time.Second, 0, "Stopping server (signal)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			spec := f.spec(t)
			f.startReady(t, spec)
			began := time.Now()
			if err := f.rt.Stop(t.Context(), spec.InstanceID, tt.stopCommand, tt.timeout); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if elapsed := time.Since(began); elapsed > tt.timeout+10*time.Second {
				t.Errorf("Stop took %s with a %s timeout", elapsed, tt.timeout)
			}
			st, err := f.rt.Inspect(t.Context(), spec.InstanceID)
			if err != nil {
				t.Fatal(err)
			}
			if st.Running || st.ExitCode != tt.wantExit {
				t.Errorf("after Stop: running=%v exit=%d, want stopped with %d", st.Running, st.ExitCode, tt.wantExit)
			}
			f.waitLog(t, spec.InstanceID, tt.wantLog)
		})
	}
}

func TestKillEndsGameAndPowerActionsOnStoppedAreNoOps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.ensure(t, spec)
	if err := f.rt.Stop(t.Context(), spec.InstanceID, "stop", time.Second); err != nil {
		t.Errorf("Stop of a created, never started container: %v", err)
	}
	if err := f.rt.Kill(t.Context(), spec.InstanceID, ""); err != nil {
		t.Errorf("Kill of a created, never started container: %v", err)
	}

	if err := f.rt.Start(t.Context(), spec.InstanceID); err != nil {
		t.Fatal(err)
	}
	if err := f.rt.Start(t.Context(), spec.InstanceID); err != nil {
		t.Errorf("Start of a running container: %v", err)
	}
	f.waitLog(t, spec.InstanceID, "Server ready on port")
	if err := f.rt.Kill(t.Context(), spec.InstanceID, ""); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if st := f.waitExited(t, spec.InstanceID); st.ExitCode != 137 {
		t.Errorf("exit code after Kill = %d, want 137 (SIGKILL)", st.ExitCode)
	}
	if err := f.rt.Stop(t.Context(), spec.InstanceID, "stop", time.Second); err != nil {
		t.Errorf("Stop of an exited container: %v", err)
	}
}

func TestEnsureTwiceWithSameSpecKeepsContainer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	first := f.ensure(t, spec)
	second := f.ensure(t, spec)
	if first.ContainerID == "" || first.ContainerID != second.ContainerID {
		t.Errorf("container IDs %q then %q, want the same one", first.ContainerID, second.ContainerID)
	}
	if second.Running || second.Status != "created" {
		t.Errorf("Ensure left running=%v status=%q, want a created, not started container", second.Running, second.Status)
	}
}

func TestEnsureRecreatesStoppedContainerWhenSpecChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	first := f.startReady(t, spec)
	if err := f.rt.Stop(t.Context(), spec.InstanceID, "stop", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	spec.MemoryMiB = 96
	second := f.ensure(t, spec)
	if second.ContainerID == first.ContainerID {
		t.Fatalf("container %s kept after the spec changed", first.ContainerID)
	}
	if second.SpecHash != docker.SpecHash(spec) {
		t.Errorf("spec hash = %s, want %s", second.SpecHash, docker.SpecHash(spec))
	}
	res, err := f.cli.ContainerInspect(t.Context(), second.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Container.HostConfig.Memory; got != 96<<20 {
		t.Errorf("Memory = %d, want 96 MiB", got)
	}
}

func TestEnsureLeavesRunningContainerWhenSpecChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	first := f.startReady(t, spec)
	changed := spec
	changed.CPU = 1
	second := f.ensure(t, changed)
	if second.ContainerID != first.ContainerID || !second.Running {
		t.Errorf("Ensure on a running container gave %+v, want the running %s left alone", second, first.ContainerID)
	}
	if second.SpecHash != docker.SpecHash(spec) {
		t.Errorf("spec hash = %s, want the old spec's %s so the caller sees it is outdated", second.SpecHash, docker.SpecHash(spec))
	}
}

func TestRemoveLeavesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.startReady(t, spec)
	if err := f.rt.Remove(t.Context(), spec.InstanceID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := f.rt.Inspect(t.Context(), spec.InstanceID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect after Remove = %v, want ErrNotFound", err)
	}
	if err := f.rt.Remove(t.Context(), spec.InstanceID); err != nil {
		t.Errorf("Remove of a missing container: %v", err)
	}
	list, err := f.rt.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if st.InstanceID == spec.InstanceID {
			t.Errorf("List still reports removed instance: %+v", st)
		}
	}
}

func TestListReportsManagedContainers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	created := f.ensure(t, spec)
	list, err := f.rt.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(st runtime.State) bool { return st.InstanceID == spec.InstanceID })
	if i < 0 {
		t.Fatalf("List has no %s among %d containers", spec.InstanceID, len(list))
	}
	if got := list[i]; got.ContainerID != created.ContainerID || got.SpecHash != created.SpecHash {
		t.Errorf("List entry = %+v, want %+v", got, created)
	}
}

func TestEnsureReportsAnUnpullableImageInPlainWords(t *testing.T) {
	t.Parallel()
	// A "registry" of the test's own on loopback, which the engine may
	// use since private registries are allowed: it hangs up on every
	// request.
	reg := listenLoopback(t)
	f := newFixture(t, docker.AllowPrivateRegistries(true))
	spec := f.spec(t)
	spec.Image = reg.addr + "/berth-test/does-not-exist:1"
	_, err := f.rt.Ensure(t.Context(), spec, func(line string) {
		if !strings.HasPrefix(line, "pulling "+spec.Image+": ") {
			t.Errorf("progress line %q lacks the pulling <ref> prefix", line)
		}
	})
	var ie *runtime.ImageError
	if !errors.Is(err, runtime.ErrImage) || !errors.As(err, &ie) {
		t.Fatalf("Ensure = %v, want an ImageError wrapping ErrImage", err)
	}
	if want := "image " + spec.Image + " not found in any reachable registry"; ie.Error() != want {
		t.Errorf("image error %q, want %q", ie, want)
	}
	for _, noise := range []string{"http", "Get ", "daemon", "dial", "EOF"} {
		if strings.Contains(err.Error(), noise) {
			t.Errorf("error %q shows the engine's words (%q)", err, noise)
		}
	}
	if reg.connections() == 0 {
		t.Error("the engine never asked the registry: the pull was not tried")
	}
	if _, err := f.rt.Inspect(t.Context(), spec.InstanceID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect after failed Ensure = %v, want ErrNotFound", err)
	}
}

func TestGameExceedingMemoryLimitIsOOMKilled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.startReady(t, spec)
	con := f.attach(t, spec.InstanceID)
	if _, err := con.Write([]byte("alloc 200\n")); err != nil {
		t.Fatal(err)
	}
	st := f.waitExited(t, spec.InstanceID)
	if !st.OOMKilled || st.ExitCode != 137 {
		t.Errorf("after alloc 200 under 64 MiB: oomKilled=%v exit=%d, want OOM killed with 137", st.OOMKilled, st.ExitCode)
	}
}

func TestCrashedGameReportsItsExitCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	spec.Env = append(spec.Env, "GAMESERVER_EXIT_CODE=3")
	f.ensure(t, spec)
	if err := f.rt.Start(t.Context(), spec.InstanceID); err != nil {
		t.Fatal(err)
	}
	st := f.waitExited(t, spec.InstanceID)
	// Docker stamps StartedAt once the process is running, which for a
	// process this short can be after FinishedAt; only presence is checked.
	if st.ExitCode != 3 || st.Status != "exited" || st.StartedAt.IsZero() || st.FinishedAt.IsZero() {
		t.Errorf("crashed state = %+v, want exited with 3 and both times set", st)
	}
}

func TestStatsReportsLimitAndUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.startReady(t, spec)
	s, err := f.rt.Stats(t.Context(), spec.InstanceID)
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryLimit != 64<<20 {
		t.Errorf("MemoryLimit = %d, want 64 MiB", s.MemoryLimit)
	}
	if s.MemoryBytes == 0 || s.MemoryBytes > s.MemoryLimit {
		t.Errorf("MemoryBytes = %d, want in (0, %d]", s.MemoryBytes, s.MemoryLimit)
	}
	if s.CPUPercent < 0 || s.CPUPercent > 200 {
		t.Errorf("CPUPercent = %v, want in [0, 200] on a half-core limit", s.CPUPercent)
	}
	if s.PIDs == 0 {
		t.Errorf("PIDs = 0, want the game's threads counted")
	}
}

func TestAttachSendsInputAndReadsOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.startReady(t, spec)
	con := f.attach(t, spec.InstanceID)

	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(con.Output())
		for sc.Scan() {
			// The TTY echoes "say hello" back; the game's own answer is
			// the line that is exactly "hello".
			if strings.TrimSuffix(sc.Text(), "\r") == "hello" {
				found <- true
				return
			}
		}
		found <- false
	}()
	if _, err := con.Write([]byte("say hello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-found:
		if !ok {
			t.Error("console output ended without the line hello")
		}
	case <-time.After(waitLimit):
		t.Error("no hello on the console")
	}
	// Closing ends the output, and so the reader above.
	con.Close()

	// The log file is written apart from the attached stream, a little
	// later; the last line becomes "hello" once it catches up.
	var lines []string
	poll(t, "hello as the only line of Logs(tail 1)", func() (bool, error) {
		var err error
		lines, err = f.rt.Logs(t.Context(), spec.InstanceID, 1)
		return slices.Equal(lines, []string{"hello"}), err
	}, func() string { return strings.Join(lines, "\n") })
}

func TestMissingInstanceIsNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := dockertest.InstanceID(t)
	if _, err := f.rt.Inspect(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect = %v, want ErrNotFound", err)
	}
	if err := f.rt.Start(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Start = %v, want ErrNotFound", err)
	}
	if err := f.rt.Stop(t.Context(), id, "stop", time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stop = %v, want ErrNotFound", err)
	}
	if err := f.rt.Kill(t.Context(), id, ""); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Kill = %v, want ErrNotFound", err)
	}
	if _, err := f.rt.Logs(t.Context(), id, 10); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Logs = %v, want ErrNotFound", err)
	}
	if _, err := f.rt.Attach(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Attach = %v, want ErrNotFound", err)
	}
	if _, err := f.rt.Stats(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stats = %v, want ErrNotFound", err)
	}
}
