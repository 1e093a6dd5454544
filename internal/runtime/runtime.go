// Package runtime defines how the node daemon runs an instance: the Runtime
// interface and the types that cross it. The docker subpackage implements it
// over the Docker Engine API; the daemon never talks to Docker directly.
package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound reports that no container exists for the instance.
var ErrNotFound = errors.New("runtime: instance container not found")

// ErrImage reports that the instance's image is neither present locally nor
// pullable. Errors that match it are *ImageError.
var ErrImage = errors.New("runtime: image unavailable")

// ImageError reports an image the runtime cannot make present, in words fit
// for the panel's users ("image x not found in any reachable registry").
// The engine's own words, which name the node's requests and its DNS
// server, go to the node's log instead.
type ImageError struct {
	// Image is the reference as the spec gave it.
	Image string
	// Reason completes the sentence "image <Image> ...".
	Reason string
}

// Error is "image <Image> <Reason>".
func (e *ImageError) Error() string { return "image " + e.Image + " " + e.Reason }

// Is makes errors.Is(err, ErrImage) true for every ImageError.
func (e *ImageError) Is(target error) bool { return target == ErrImage }

// Label names put on everything the runtime creates, so that a restarted
// daemon can rebuild its view of the machine from Docker alone.
const (
	LabelInstance = "berth.instance"
	LabelSpecHash = "berth.spec-hash"
	LabelManaged  = "berth.managed"
	// LabelNode holds the ID of the node daemon that created a container;
	// a daemon lists and recovers only its own, so that several can share
	// one engine.
	LabelNode = "berth.node"
)

// DefaultMountPath is where an instance's data folder appears inside its
// container when the template names no other path.
const DefaultMountPath = "/home/container"

// ShellCommand is the command that runs a template's startup line: a shell
// that, told to stop, waits for the game to finish stopping. The runtime
// runs instances under an init that passes a stop signal to the whole
// process group, game included (a compound line such as "cd x && ./game"
// leaves the game a child of the shell, which Docker's own signal would
// never reach); the trap keeps the shell from dying of that same signal at
// once, since the init would then exit and the kernel kill the game in the
// middle of saving. A trap with a command, unlike an ignored signal, is
// reset in the game, which gets the signal's usual effect.
func ShellCommand(startup string) []string {
	return []string{StartupShell(startup), "-c", "trap : HUP INT QUIT TERM USR1 USR2\n" + startup}
}

// PortBinding publishes one container port on one host port, for TCP and UDP.
type PortBinding struct {
	Container int
	Host      int
}

// Spec is everything needed to create an instance's container. Two specs
// with the same Hash produce the same container.
type Spec struct {
	// InstanceID names the container (berth-<id>) and labels it.
	InstanceID string
	// Image is a Docker image reference.
	Image string
	// MemoryMiB is the hard memory limit; swap is held equal to it.
	MemoryMiB int64
	// CPU is the number of cores (decimals allowed); 0 means unlimited.
	CPU float64
	// PidsLimit caps processes in the container; 0 means the runtime default.
	PidsLimit int64
	// Ports are published on the host for both TCP and UDP.
	Ports []PortBinding
	// Env is the container environment as KEY=VALUE pairs.
	Env []string
	// Cmd overrides the image's command when not empty; ShellCommand
	// builds it from a startup line.
	Cmd []string
	// DataDir is the absolute host folder bind-mounted at MountPath.
	DataDir string
	// MountPath is where DataDir appears; empty means DefaultMountPath.
	MountPath string
	// User is the numeric "uid:gid" the container runs as, the owner of
	// DataDir; empty means the image's own user.
	User string
}

// State is what the runtime observes about one instance's container.
type State struct {
	InstanceID  string
	ContainerID string
	Image       string
	// SpecHash is the hash of the Spec the container was created from.
	SpecHash string
	// Running is true while the main process is alive.
	Running bool
	// Status is Docker's word: created, running, exited, ...
	Status     string
	ExitCode   int
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// Stats is one sample of an instance's resource use.
type Stats struct {
	// CPUPercent is computed as `docker stats` does: 100 means one full core.
	CPUPercent  float64
	MemoryBytes uint64
	MemoryLimit uint64
	RxBytes     uint64
	TxBytes     uint64
	PIDs        uint64
}

// TermGrace is how long Stop waits after SIGTERM before SIGKILL, for a
// stop whose first ask (the stop command) had timeout: as long again, at
// most ten seconds.
func TermGrace(timeout time.Duration) time.Duration {
	return min(timeout, 10*time.Second)
}

// Console is a live connection to an instance's standard streams.
type Console interface {
	// Output yields the container's output from the moment of attaching.
	Output() io.Reader
	// Write sends bytes to the container's standard input.
	Write(p []byte) (int, error)
	Close() error
}

// Runtime runs instance containers. Every method is addressed by instance ID
// and is safe to retry.
type Runtime interface {
	// Ensure makes the instance's container exist as spec describes. An
	// image present locally is used as is; otherwise it is pulled, and
	// progress receives human-readable pull progress. A stopped container
	// whose spec hash differs is recreated; a running one is left alone.
	Ensure(ctx context.Context, spec Spec, progress func(string)) (State, error)
	// Start starts the container; starting a running container is a no-op.
	Start(ctx context.Context, id string) error
	// Stop asks the container to stop: stopCommand on stdin, or a signal
	// when it is written "^SIGNAL", or SIGTERM when empty. A container still
	// running after timeout gets SIGTERM (unless that was the first ask),
	// and SIGKILL after a further TermGrace(timeout). Stopping a stopped
	// container is a no-op.
	Stop(ctx context.Context, id, stopCommand string, timeout time.Duration) error
	// Kill sends signal (default SIGKILL) to the container.
	Kill(ctx context.Context, id, signal string) error
	// Remove deletes the container, and any install container of the
	// instance. A missing container is not an error.
	Remove(ctx context.Context, id string) error
	// Inspect reports the container's state, or ErrNotFound.
	Inspect(ctx context.Context, id string) (State, error)
	// List reports every container this runtime created.
	List(ctx context.Context) ([]State, error)
	// Logs returns up to tail of the most recent output lines.
	Logs(ctx context.Context, id string, tail int) ([]string, error)
	// Attach connects to the container's stdin and output.
	Attach(ctx context.Context, id string) (Console, error)
	// Stats samples the container's resource use once.
	Stats(ctx context.Context, id string) (Stats, error)
	// Wait blocks until the container is not running and reports its final
	// state (exit code, OOM kill). It returns at once for a container that
	// is not running, and ErrNotFound when there is none.
	Wait(ctx context.Context, id string) (State, error)
	// HasFile reports whether the instance's container, created and
	// perhaps never started, has a file at the absolute path p.
	HasFile(ctx context.Context, id, p string) (bool, error)
	// StreamStats calls fn with a sample of the container's resource use
	// about once a second until ctx ends or the container stops.
	StreamStats(ctx context.Context, id string, fn func(Stats)) error
	// RunInstall runs job's script in a container of its own and waits for
	// it to end, streaming its output to output. It returns the script's
	// exit code; err is set only when the script could not be run to its
	// end (the image is missing, the engine failed, ctx ended). The
	// container is removed afterwards, and canceling ctx kills it. A
	// leftover install container of the same instance is replaced.
	RunInstall(ctx context.Context, job InstallJob, output io.Writer) (exitCode int, err error)
}
