package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// Instances do not join Docker's default bridge, where nothing stands
// between a game and the host's own services or a cloud's metadata
// address. They join a bridge network of Berth's own, and firewall rules
// (iptables, filter table) keep new connections from that bridge off the
// host and the link-local range:
//
//   - Packets to any of the host's own addresses, on whichever interface,
//     are delivered through INPUT: a hook there sends the bridge's traffic
//     to BERTH-INPUT, which lets replies through (so published ports keep
//     working) and rejects the rest.
//   - Packets to 169.254.0.0/16 are routed off the host, through FORWARD:
//     a hook in DOCKER-USER (Docker's place for its users' rules, which it
//     never flushes; FORWARD when the engine keeps out of iptables) sends
//     them to BERTH-FORWARD, which rejects new connections.
//
// The network has no IPv6, and the engine turns IPv6 off inside its
// containers, so the rules are IPv4 only. Rejecting, rather than dropping,
// makes a refused connection fail at once instead of hanging.

// DefaultNetwork is the bridge network instances join, and the name of its
// Linux bridge.
const DefaultNetwork = "berth0"

// Berth's chains in the filter table.
const (
	inputChain   = "BERTH-INPUT"
	forwardChain = "BERTH-FORWARD"
)

// chainRules are the rules of Berth's chains, in the order iptables -S
// prints them; what falls through returns to the hooking chain.
var chainRules = map[string][][]string{
	inputChain: {
		{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"},
		{"-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
	},
	forwardChain: {
		{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"},
		{"-d", "169.254.0.0/16", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
	},
}

// bridgeOption names a bridge network's Linux bridge.
const bridgeOption = "com.docker.network.bridge.name"

// networkNamePattern is what a Linux interface name may be (IFNAMSIZ less
// the final NUL), in the characters Docker allows in a network's name.
var networkNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$`)

// setupLockFile serializes setting up the network and its rules between
// runtimes on one host, in one process or several (daemons may share an
// engine, and tests run in parallel), so that none adds a hook twice. An
// flock belongs to an open file, so two opens in one process exclude each
// other too.
const setupLockFile = "/run/berth-network.lock"

// validateNetworkName checks that name can name both the network and its
// Linux bridge.
func validateNetworkName(name string) error {
	if !networkNamePattern.MatchString(name) {
		return fmt.Errorf("network %q: want 1 to 15 letters, digits, '_', '.' or '-'", name)
	}
	return nil
}

// setupNetwork makes the instances' network exist, then installs the
// firewall rules for its bridge, or removes them when the node allows
// instances to reach the host.
func (r *Runtime) setupNetwork(ctx context.Context) error {
	unlock, err := lockSetup()
	if err != nil {
		return err
	}
	defer unlock()
	if err := r.ensureNetwork(ctx); err != nil {
		return err
	}
	if r.allowHostAccess {
		if err := unhookFirewall(ctx, r.network); err != nil {
			// The operator asked for the access; rules left from an
			// earlier run without it are worth a warning, not a refusal.
			r.log.Warn("instances may reach the host (allowed), but earlier rules could not be removed",
				"network", r.network, "err", err)
		}
		return nil
	}
	if err := installFirewall(ctx, r.network); err != nil {
		return fmt.Errorf("keep instances off the host: %w (run the node as root, or allow instances to reach the host with BERTH_ALLOW_INSTANCE_HOST_ACCESS)", err)
	}
	return nil
}

// lockSetup takes the host-wide file lock, where it can be created;
// unlock releases it.
func lockSetup() (unlock func(), err error) {
	f, err := os.OpenFile(setupLockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// Only root may write /run, and only root may change the
		// firewall: without the file there is nothing to serialize.
		return func() {}, nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", setupLockFile, err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// ensureNetwork creates the network, labelled as Berth's, when it is
// missing. A network of that name that Berth did not create is an error:
// its settings are someone else's.
func (r *Runtime) ensureNetwork(ctx context.Context) error {
	res, err := r.cli.NetworkInspect(ctx, r.network, client.NetworkInspectOptions{})
	if err == nil {
		if res.Network.Labels[runtime.LabelManaged] != "true" {
			return fmt.Errorf("network %s exists but was not created by Berth; remove it or name another", r.network)
		}
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", r.network, err)
	}
	ipv6 := false
	_, err = r.cli.NetworkCreate(ctx, r.network, client.NetworkCreateOptions{
		Driver:     "bridge",
		EnableIPv6: &ipv6,
		Options:    map[string]string{bridgeOption: r.network},
		Labels:     map[string]string{runtime.LabelManaged: "true"},
	})
	if err != nil {
		return fmt.Errorf("create network %s: %w", r.network, err)
	}
	return nil
}

// installFirewall makes Berth's chains hold chainRules and hooks bridge's
// traffic into them. Running it again changes nothing.
func installFirewall(ctx context.Context, bridge string) error {
	for _, chain := range []string{inputChain, forwardChain} {
		if err := ensureChain(ctx, chain, chainRules[chain]); err != nil {
			return err
		}
	}
	for _, hook := range hooks(ctx, bridge) {
		if iptables(ctx, append([]string{"-C"}, hook...)...) == nil {
			continue
		}
		// First, ahead of any rule that would accept the traffic.
		args := append([]string{"-I", hook[0], "1"}, hook[1:]...)
		if err := iptables(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// unhookFirewall removes bridge's hooks into Berth's chains, every copy.
func unhookFirewall(ctx context.Context, bridge string) error {
	for _, hook := range hooks(ctx, bridge) {
		for iptables(ctx, append([]string{"-C"}, hook...)...) == nil {
			if err := iptables(ctx, append([]string{"-D"}, hook...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// hooks are the rules, less their command, that send bridge's traffic to
// Berth's chains.
func hooks(ctx context.Context, bridge string) [][]string {
	forward := "DOCKER-USER"
	if iptables(ctx, "-S", forward) != nil {
		forward = "FORWARD"
	}
	return [][]string{
		{"INPUT", "-i", bridge, "-j", inputChain},
		{forward, "-i", bridge, "-j", forwardChain},
	}
}

// ensureChain makes chain exist and hold exactly rules, rewriting it only
// when it holds anything else.
func ensureChain(ctx context.Context, chain string, rules [][]string) error {
	want := []string{"-N " + chain}
	for _, rule := range rules {
		want = append(want, "-A "+chain+" "+strings.Join(rule, " "))
	}
	got, err := listChain(ctx, chain)
	if err != nil {
		if err := iptables(ctx, "-N", chain); err != nil {
			return err
		}
	}
	if slices.Equal(got, want) {
		return nil
	}
	if err := iptables(ctx, "-F", chain); err != nil {
		return err
	}
	for _, rule := range rules {
		if err := iptables(ctx, append([]string{"-A", chain}, rule...)...); err != nil {
			return err
		}
	}
	return nil
}

// listChain returns chain's rules as iptables -S prints them.
func listChain(ctx context.Context, chain string) ([]string, error) {
	out, err := iptablesOutput(ctx, "-S", chain)
	if err != nil {
		return nil, err
	}
	var rules []string
	for line := range strings.Lines(string(out)) {
		// iptables-nft prints warnings as comments among the rules.
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	return rules, nil
}

// iptables runs iptables on the filter table with args.
func iptables(ctx context.Context, args ...string) error {
	_, err := iptablesOutput(ctx, args...)
	return err
}

// iptablesOutput runs iptables on the filter table with args, waiting for
// the lock other programs (the engine among them) may hold, and returns
// what it prints.
func iptablesOutput(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "filter"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("iptables %s: %s", strings.Join(args, " "), msg)
	}
	return stdout.Bytes(), nil
}
