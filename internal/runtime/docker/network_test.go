package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// testNetwork names a network (and bridge) of the test's own, which is
// removed with its firewall hooks when the test ends. Tests that change
// the rules work on their own bridge, so that they never open or close
// Berth's default network under other tests.
func testNetwork(t *testing.T) string {
	t.Helper()
	cli := dockertest.RequireDocker(t)
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "bt" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A runtime that allows host access removes the bridge's hooks.
		rt, err := docker.New(ctx, docker.WithNetwork(name), docker.AllowHostAccess(true))
		if err != nil {
			t.Errorf("cleanup: %v", err)
		} else {
			rt.Close()
		}
		if _, err := cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("cleanup: remove network %s: %v", name, err)
		}
	})
	return name
}

// iptablesRules returns chain's rules as iptables -S prints them.
func iptablesRules(t *testing.T, chain string) []string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "iptables", "-w", "-S", chain).Output()
	if err != nil {
		t.Fatalf("iptables -S %s: %v", chain, err)
	}
	var rules []string
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	return rules
}

// count reports how many of rules equal rule.
func count(rules []string, rule string) int {
	n := 0
	for _, r := range rules {
		if r == rule {
			n++
		}
	}
	return n
}

func TestFirewallKeepsTheNetworkOffTheHostAndTheLinkLocalRange(t *testing.T) {
	t.Parallel()
	name := testNetwork(t)
	// Twice, as a restarted daemon would: nothing may be added twice.
	for range 2 {
		rt, err := docker.New(t.Context(), docker.WithNetwork(name))
		if err != nil {
			t.Fatal(err)
		}
		rt.Close()
	}

	if got, want := iptablesRules(t, "BERTH-INPUT"), []string{
		"-N BERTH-INPUT",
		"-A BERTH-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
		"-A BERTH-INPUT -j REJECT --reject-with icmp-port-unreachable",
	}; !slices.Equal(got, want) {
		t.Errorf("BERTH-INPUT:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := iptablesRules(t, "BERTH-FORWARD"), []string{
		"-N BERTH-FORWARD",
		"-A BERTH-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
		"-A BERTH-FORWARD -d 169.254.0.0/16 -j REJECT --reject-with icmp-port-unreachable",
	}; !slices.Equal(got, want) {
		t.Errorf("BERTH-FORWARD:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	input := iptablesRules(t, "INPUT")
	if n := count(input, "-A INPUT -i "+name+" -j BERTH-INPUT"); n != 1 {
		t.Errorf("INPUT hooks %s %d times, want once:\n%s", name, n, strings.Join(input, "\n"))
	}
	user := iptablesRules(t, "DOCKER-USER")
	if n := count(user, "-A DOCKER-USER -i "+name+" -j BERTH-FORWARD"); n != 1 {
		t.Errorf("DOCKER-USER hooks %s %d times, want once:\n%s", name, n, strings.Join(user, "\n"))
	}
	// Ahead of Docker's RETURN, or it would never be reached.
	if i := slices.Index(user, "-A DOCKER-USER -i "+name+" -j BERTH-FORWARD"); i < 0 || i > slices.Index(user, "-A DOCKER-USER -j RETURN") {
		t.Errorf("DOCKER-USER hook after the chain's RETURN:\n%s", strings.Join(user, "\n"))
	}

	// The switch removes the hooks, and only this bridge's.
	rt, err := docker.New(t.Context(), docker.WithNetwork(name), docker.AllowHostAccess(true))
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if n := count(iptablesRules(t, "INPUT"), "-A INPUT -i "+name+" -j BERTH-INPUT"); n != 0 {
		t.Errorf("INPUT still hooks %s with host access allowed", name)
	}
	if n := count(iptablesRules(t, "DOCKER-USER"), "-A DOCKER-USER -i "+name+" -j BERTH-FORWARD"); n != 0 {
		t.Errorf("DOCKER-USER still hooks %s with host access allowed", name)
	}
}

// gatewayListener listens on a port of the network's gateway, the host's
// own address on its bridge.
func gatewayListener(t *testing.T, cli *client.Client, network string) net.Listener {
	t.Helper()
	res, err := cli.NetworkInspect(t.Context(), network, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Network.IPAM.Config) == 0 || !res.Network.IPAM.Config[0].Gateway.IsValid() {
		t.Fatalf("network %s has no gateway: %+v", network, res.Network.IPAM)
	}
	gw := res.Network.IPAM.Config[0].Gateway
	ln, err := net.Listen("tcp", net.JoinHostPort(gw.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// tryConnect runs, as an instance on the fixture's network, a TCP client
// (busybox nc) of the listener's address, and returns its exit code and
// output.
func tryConnect(t *testing.T, f *fixture, ln net.Listener) (int, string) {
	t.Helper()
	spec := f.spec(t)
	spec.Image = dockertest.BusyboxImage(t)
	spec.Env = nil
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	spec.Cmd = []string{"nc", "-w", "5", host, port}
	f.ensure(t, spec)
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(waitLimit))
		_, err = fmt.Fprint(conn, "hello\n")
		served <- err
	}()
	if err := f.rt.Start(t.Context(), spec.InstanceID); err != nil {
		t.Fatal(err)
	}
	st, err := f.rt.Wait(t.Context(), spec.InstanceID)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	<-served
	lines, _ := f.rt.Logs(t.Context(), spec.InstanceID, 0)
	return st.ExitCode, strings.Join(lines, "\n")
}

func TestInstancesCannotConnectToTheHostUnlessAllowed(t *testing.T) {
	t.Parallel()
	t.Run("blocked", func(t *testing.T) {
		t.Parallel()
		name := testNetwork(t)
		f := newFixture(t, docker.WithNetwork(name))
		ln := gatewayListener(t, f.cli, name)
		code, out := tryConnect(t, f, ln)
		if code == 0 || strings.Contains(out, "hello") || !strings.Contains(out, "refused") {
			t.Errorf("connecting to the host at %s: exit %d, output:\n%s\nwant the connection refused", ln.Addr(), code, out)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		name := testNetwork(t)
		f := newFixture(t, docker.WithNetwork(name), docker.AllowHostAccess(true))
		ln := gatewayListener(t, f.cli, name)
		if code, out := tryConnect(t, f, ln); code != 0 || !strings.Contains(out, "hello") {
			t.Errorf("with host access allowed, connecting to %s: exit %d, output:\n%s", ln.Addr(), code, out)
		}
	})
}

func TestInstancesJoinTheRuntimesNetwork(t *testing.T) {
	t.Parallel()
	name := testNetwork(t)
	f := newFixture(t, docker.WithNetwork(name))
	spec := f.spec(t)
	st := f.ensure(t, spec)
	res, err := f.cli.ContainerInspect(t.Context(), st.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Container.HostConfig.NetworkMode); got != name {
		t.Errorf("NetworkMode = %q, want %s", got, name)
	}
	nw, err := f.cli.NetworkInspect(t.Context(), name, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nw.Network.Labels[runtime.LabelManaged] != "true" || nw.Network.Options["com.docker.network.bridge.name"] != name {
		t.Errorf("network %s: labels %v, options %v; want Berth's label and a bridge of the same name",
			name, nw.Network.Labels, nw.Network.Options)
	}
}
