// Package docker implements runtime.Runtime over the Docker Engine API. Each
// instance is one container named berth-<id>, labelled so that a restarted
// node daemon can find everything it created.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// errStillRunning reports that a container outlived the time it was given.
var errStillRunning = errors.New("container still running")

// killWait bounds how long Stop waits for a container to die after SIGKILL.
const killWait = 30 * time.Second

// Runtime runs instance containers on one Docker engine.
type Runtime struct {
	cli *client.Client
	// nodeID labels every container created, and List reports no other.
	nodeID string
	// network is the bridge network instances join, and its Linux bridge.
	network string
	// allowHostAccess leaves out the firewall rules that keep instances
	// off the host's own addresses and the link-local range.
	allowHostAccess bool
	// allowPrivateRegistries lets images come from registries at private
	// or loopback addresses.
	allowPrivateRegistries bool
	resolver               Resolver
	log                    *slog.Logger
}

var _ runtime.Runtime = (*Runtime)(nil)

// Resolver looks up a registry's host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Option tunes a Runtime made by New.
type Option func(*Runtime)

// WithNodeID makes the runtime label what it creates with the node's ID
// and list only containers so labelled, so that two daemons sharing one
// engine each see only their own. Without it the ID is empty, which is
// one more node of its own.
func WithNodeID(id string) Option { return func(r *Runtime) { r.nodeID = id } }

// WithNetwork names the bridge network instances join, which is also the
// name of its Linux bridge (at most 15 characters); the default is
// DefaultNetwork.
func WithNetwork(name string) Option { return func(r *Runtime) { r.network = name } }

// AllowHostAccess, when allow is true, lets instances open connections to
// the host's own addresses and the link-local range (where clouds serve
// instance metadata), by installing no firewall rules for the network and
// removing those an earlier run installed.
func AllowHostAccess(allow bool) Option { return func(r *Runtime) { r.allowHostAccess = allow } }

// AllowPrivateRegistries, when allow is true, lets images be pulled from
// registries whose host is at a private, loopback or otherwise non-public
// address.
func AllowPrivateRegistries(allow bool) Option {
	return func(r *Runtime) { r.allowPrivateRegistries = allow }
}

// WithResolver replaces the system resolver used to check registry hosts.
func WithResolver(res Resolver) Option { return func(r *Runtime) { r.resolver = res } }

// WithLogger sets where the runtime logs what users are not shown, such as
// the engine's words when a pull fails; the default is slog.Default().
func WithLogger(log *slog.Logger) Option { return func(r *Runtime) { r.log = log } }

// New connects to the Docker engine named by the environment (DOCKER_HOST
// and friends), checks that it answers, and makes the instances' network
// and its firewall rules exist. The client negotiates the API version by
// default (WithAPIVersionNegotiation is a deprecated no-op), so older
// engines such as 20.10 (API 1.41) work.
func New(ctx context.Context, opts ...Option) (*Runtime, error) {
	r := &Runtime{network: DefaultNetwork, resolver: net.DefaultResolver, log: slog.Default()}
	for _, opt := range opts {
		opt(r)
	}
	if err := validateNetworkName(r.network); err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: open client: %w", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("docker: ping %s: %w", cli.DaemonHost(), err)
	}
	r.cli = cli
	if err := r.setupNetwork(ctx); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("docker: %w", err)
	}
	return r, nil
}

// Close releases the connection to the engine.
func (r *Runtime) Close() error {
	return r.cli.Close()
}

// ContainerName is the name of the container that runs instance id.
func ContainerName(id string) string {
	return "berth-" + id
}

// Ensure makes the instance's container exist as spec describes; it never
// starts it.
func (r *Runtime) Ensure(ctx context.Context, spec runtime.Spec, progress func(string)) (runtime.State, error) {
	opts, err := createOptions(spec, r.layout())
	if err != nil {
		return runtime.State{}, fmt.Errorf("ensure %s: %w", spec.InstanceID, err)
	}
	hash := opts.Config.Labels[runtime.LabelSpecHash]

	st, err := r.Inspect(ctx, spec.InstanceID)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
	case err != nil:
		return runtime.State{}, fmt.Errorf("ensure %s: %w", spec.InstanceID, err)
	case st.SpecHash == hash:
		return st, nil
	case st.Running:
		// A running game is never recreated under its players; the caller
		// sees the old hash and applies the new spec at the next stop.
		return st, nil
	default:
		if err := r.Remove(ctx, spec.InstanceID); err != nil {
			return runtime.State{}, fmt.Errorf("ensure %s: replace outdated container: %w", spec.InstanceID, err)
		}
	}

	if err := r.ensureImage(ctx, spec.Image, progress); err != nil {
		return runtime.State{}, fmt.Errorf("ensure %s: %w", spec.InstanceID, err)
	}
	if _, err := r.cli.ContainerCreate(ctx, opts); err != nil {
		// A concurrent Ensure may have won the name; its container is as
		// good as ours if the hash matches, which Inspect below reports.
		if !cerrdefs.IsConflict(err) {
			return runtime.State{}, fmt.Errorf("ensure %s: create container: %w", spec.InstanceID, err)
		}
	}
	return r.Inspect(ctx, spec.InstanceID)
}

// Start starts the instance's container; a running container is left as is.
func (r *Runtime) Start(ctx context.Context, id string) error {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if st.Running {
		return nil
	}
	if _, err := r.cli.ContainerStart(ctx, st.ContainerID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", id, notFound(err))
	}
	return nil
}

// Stop asks the container to stop as stopCommand says and waits up to
// timeout for it to exit; then it sends SIGTERM (when the first ask was
// something else) and waits runtime.TermGrace(timeout) more; then it kills
// the container.
func (r *Runtime) Stop(ctx context.Context, id, stopCommand string, timeout time.Duration) error {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if !st.Running {
		return nil
	}

	signal, input := stopAction(stopCommand)
	if signal != "" {
		err = r.signal(ctx, st.ContainerID, signal)
	} else {
		err = r.writeStdin(ctx, st.ContainerID, input)
	}
	if err != nil {
		// The game may have exited on its own since it was inspected.
		if now, ierr := r.Inspect(ctx, id); ierr == nil && !now.Running {
			return nil
		}
		return fmt.Errorf("stop %s: %w", id, err)
	}

	switch err := r.waitExit(ctx, st.ContainerID, timeout); {
	case err == nil:
		return nil
	case !errors.Is(err, errStillRunning):
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if signal != "SIGTERM" {
		// A server that ignored its stop command may still save and exit
		// cleanly on SIGTERM, which a kill would not let it do.
		if err := r.signal(ctx, st.ContainerID, "SIGTERM"); err != nil {
			return fmt.Errorf("stop %s: SIGTERM after %s: %w", id, timeout, err)
		}
		switch err := r.waitExit(ctx, st.ContainerID, runtime.TermGrace(timeout)); {
		case err == nil:
			return nil
		case !errors.Is(err, errStillRunning):
			return fmt.Errorf("stop %s: %w", id, err)
		}
	}
	if err := r.signal(ctx, st.ContainerID, "SIGKILL"); err != nil {
		return fmt.Errorf("stop %s: kill after %s: %w", id, timeout, err)
	}
	if err := r.waitExit(ctx, st.ContainerID, killWait); err != nil {
		return fmt.Errorf("stop %s: after SIGKILL: %w", id, err)
	}
	return nil
}

// Kill sends signal (SIGKILL when empty) to the container. Killing a
// stopped container is a no-op.
func (r *Runtime) Kill(ctx context.Context, id, signal string) error {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	if !st.Running {
		return nil
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	if err := r.signal(ctx, st.ContainerID, signal); err != nil {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	return nil
}

// Remove force-removes the container, keeping any volumes, and an install
// container a killed daemon left behind; a missing container is not an
// error.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	_, err := r.cli.ContainerRemove(ctx, ContainerName(id), client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if err := r.removeInstallContainer(ctx, InstallContainerName(id)); err != nil {
		return fmt.Errorf("remove %s: install container: %w", id, err)
	}
	return nil
}

// Inspect reports the container's state, or runtime.ErrNotFound.
func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.State, error) {
	res, err := r.cli.ContainerInspect(ctx, ContainerName(id), client.ContainerInspectOptions{})
	if err != nil {
		return runtime.State{}, fmt.Errorf("inspect %s: %w", id, notFound(err))
	}
	return stateOf(res.Container), nil
}

// List reports every instance container this node created: labelled as
// managed by Berth and with this runtime's node ID.
func (r *Runtime) List(ctx context.Context) ([]runtime.State, error) {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).Add("label",
			runtime.LabelManaged+"=true", runtime.LabelNode+"="+r.nodeID),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	states := make([]runtime.State, 0, len(res.Items))
	for _, c := range res.Items {
		// The summary lacks exit codes and times, so each container is
		// inspected; one removed in between is simply left out.
		in, err := r.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list containers: inspect %s: %w", c.ID, err)
		}
		states = append(states, stateOf(in.Container))
	}
	return states, nil
}

// signal sends a signal to a container by ID. A container that exited in
// the meantime has nothing left to signal, which is not an error.
func (r *Runtime) signal(ctx context.Context, containerID, signal string) error {
	_, err := r.cli.ContainerKill(ctx, containerID, client.ContainerKillOptions{Signal: signal})
	if err == nil {
		return nil
	}
	if cerrdefs.IsConflict(err) {
		if res, ierr := r.cli.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{}); ierr == nil &&
			res.Container.State != nil && !res.Container.State.Running {
			return nil
		}
	}
	return fmt.Errorf("send %s: %w", signal, notFound(err))
}

// waitExit waits up to d for the container to stop running, and returns
// errStillRunning when it does not.
func (r *Runtime) waitExit(ctx context.Context, containerID string, d time.Duration) error {
	waitCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	wait := r.cli.ContainerWait(waitCtx, containerID, client.ContainerWaitOptions{
		Condition: container.WaitConditionNotRunning,
	})
	select {
	case <-wait.Result:
		return nil
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if waitCtx.Err() != nil {
			return errStillRunning
		}
		return fmt.Errorf("wait for exit: %w", notFound(err))
	}
}

// notFound turns Docker's not-found error into runtime.ErrNotFound, keeping
// Docker's message.
func notFound(err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %v", runtime.ErrNotFound, err)
	}
	return err
}

// stateOf translates Docker's view of a container into a runtime.State.
func stateOf(c container.InspectResponse) runtime.State {
	st := runtime.State{ContainerID: c.ID}
	if c.Config != nil {
		st.InstanceID = c.Config.Labels[runtime.LabelInstance]
		st.SpecHash = c.Config.Labels[runtime.LabelSpecHash]
		st.Image = c.Config.Image
	}
	if s := c.State; s != nil {
		st.Running = s.Running
		st.Status = string(s.Status)
		st.ExitCode = s.ExitCode
		st.OOMKilled = s.OOMKilled
		st.StartedAt = parseTime(s.StartedAt)
		st.FinishedAt = parseTime(s.FinishedAt)
	}
	return st
}

// parseTime reads Docker's timestamps; Docker writes the zero time for
// events that have not happened, and so does an unreadable value here.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// HasFile reports whether the instance's container has a file at p. The
// engine reads the container's file system, so this works before its
// first start.
func (r *Runtime) HasFile(ctx context.Context, id, p string) (bool, error) {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return false, fmt.Errorf("has file %s: %w", id, err)
	}
	return r.statPath(ctx, st.ContainerID, p)
}

// statPath reports whether container (by its ID) has a file at p.
func (r *Runtime) statPath(ctx context.Context, container, p string) (bool, error) {
	_, err := r.cli.ContainerStatPath(ctx, container, client.ContainerStatPathOptions{Path: p})
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s in container: %w", p, err)
	}
	return true, nil
}
