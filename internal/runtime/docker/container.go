package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// DefaultPidsLimit caps processes in a container whose spec names no limit,
// so that a fork bomb stays inside its instance.
const DefaultPidsLimit = 512

// droppedCaps are the capabilities Docker grants by default that a game
// server has no use for. Without dac_override, root in the container cannot
// read files it does not own.
var droppedCaps = []string{
	"setpcap", "mknod", "audit_write", "net_raw", "dac_override",
	"fowner", "fsetid", "net_bind_service", "sys_chroot", "setfcap",
}

// Log files are bounded: the panel keeps its own console history, and a
// chatty server must not fill the node's disk.
const (
	logMaxSize  = "5m"
	logMaxFiles = "2"
)

// tmpfsOptions back /tmp, the only writable place besides the data folder.
const tmpfsOptions = "rw,exec,nosuid,size=100m"

// normalize fills in the defaults of spec and orders its ports, so that two
// specs producing the same container compare equal.
func normalize(spec runtime.Spec) runtime.Spec {
	if spec.MountPath == "" {
		spec.MountPath = runtime.DefaultMountPath
	}
	if spec.PidsLimit == 0 {
		spec.PidsLimit = DefaultPidsLimit
	}
	spec.Ports = slices.Clone(spec.Ports)
	slices.SortFunc(spec.Ports, func(a, b runtime.PortBinding) int {
		if a.Container != b.Container {
			return a.Container - b.Container
		}
		return a.Host - b.Host
	})
	return spec
}

// containerLayout numbers the way createOptions turns a spec into a
// container. It is part of SpecHash, so that raising it when that way
// changes makes the node recreate its stopped containers (and running ones
// at their next stop) in the new way. 2: an init that signals the process
// group, the Berth network, the node label.
const containerLayout = 2

// SpecHash is the hex SHA-256 of the canonical JSON of spec, with defaults
// filled in, and of containerLayout. It is stored on the container to tell
// whether it is outdated.
func SpecHash(spec runtime.Spec) string {
	b, err := json.Marshal(normalize(spec))
	if err != nil {
		// Spec holds only strings and numbers; Marshal cannot fail on it.
		panic(fmt.Sprintf("docker: marshal spec: %v", err))
	}
	sum := sha256.Sum256(fmt.Appendf(b, "\nlayout %d", containerLayout))
	return hex.EncodeToString(sum[:])
}

// layout is what a runtime adds to every container it creates, beyond
// its spec.
type layout struct {
	// nodeID is the LabelNode of every container.
	nodeID string
	// network is the network every container joins.
	network string
}

// layout reports what r adds to every container it creates.
func (r *Runtime) layout() layout {
	return layout{nodeID: r.nodeID, network: r.network}
}

// initEnv makes Docker's init (tini) pass the signals it gets to the
// whole process group of its child, not only to the child, which is the
// shell when the command is a startup line; see runtime.ShellCommand.
const initEnv = "TINI_KILL_PROCESS_GROUP=1"

// containerEnv is env without any TINI_ variable, with which a template
// could change how the init behaves, and with initEnv.
func containerEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TINI_") {
			out = append(out, kv)
		}
	}
	return append(out, initEnv)
}

// validate reports the first rule spec breaks, naming the field.
func validate(spec runtime.Spec) error {
	switch {
	case spec.InstanceID == "":
		return errors.New("spec.InstanceID: must not be empty")
	case spec.Image == "":
		return errors.New("spec.Image: must not be empty")
	case spec.MemoryMiB < 0:
		return fmt.Errorf("spec.MemoryMiB: must not be negative, got %d", spec.MemoryMiB)
	case spec.CPU < 0 || math.IsNaN(spec.CPU) || math.IsInf(spec.CPU, 0):
		return fmt.Errorf("spec.CPU: must be a non-negative number, got %v", spec.CPU)
	case spec.PidsLimit < 0:
		return fmt.Errorf("spec.PidsLimit: must not be negative, got %d", spec.PidsLimit)
	case !filepath.IsAbs(spec.DataDir):
		return fmt.Errorf("spec.DataDir: must be an absolute path, got %q", spec.DataDir)
	case !path.IsAbs(spec.MountPath):
		return fmt.Errorf("spec.MountPath: must be an absolute path, got %q", spec.MountPath)
	}
	return validatePorts(spec.Ports)
}

// createOptions builds the container described by spec, as DESIGN §4 sets
// out: limits, dropped privileges, bounded logs, published ports and the
// data folder; and, from lay, the node's label and network.
func createOptions(spec runtime.Spec, lay layout) (client.ContainerCreateOptions, error) {
	spec = normalize(spec)
	if err := validate(spec); err != nil {
		return client.ContainerCreateOptions{}, err
	}
	exposed, bindings := portMaps(spec.Ports)
	memory := spec.MemoryMiB << 20
	pids := spec.PidsLimit

	cfg := &container.Config{
		Image:        spec.Image,
		Tty:          true,
		OpenStdin:    true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		Env:          containerEnv(spec.Env),
		ExposedPorts: exposed,
		WorkingDir:   spec.MountPath,
		User:         spec.User,
		Labels: map[string]string{
			runtime.LabelInstance: spec.InstanceID,
			runtime.LabelManaged:  "true",
			runtime.LabelSpecHash: SpecHash(spec),
			runtime.LabelNode:     lay.nodeID,
		},
	}
	if len(spec.Cmd) > 0 {
		cfg.Cmd = slices.Clone(spec.Cmd)
	}

	init := true
	host := &container.HostConfig{
		// Without an init the command, often a shell, is PID 1: it passes
		// no signal on to the game, and nothing reaps orphans.
		Init:        &init,
		NetworkMode: container.NetworkMode(lay.network),
		Resources: container.Resources{
			Memory: memory,
			// Equal to Memory: the container gets no swap on top.
			MemorySwap: memory,
			NanoCPUs:   int64(math.Round(spec.CPU * 1e9)),
			PidsLimit:  &pids,
		},
		PortBindings: bindings,
		// The node daemon decides when an instance comes back, not Docker.
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		SecurityOpt:    []string{"no-new-privileges"},
		CapDrop:        slices.Clone(droppedCaps),
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": tmpfsOptions},
		LogConfig: container.LogConfig{
			Type:   "json-file",
			Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles},
		},
		Mounts: []mount.Mount{{
			Type:   mount.TypeBind,
			Source: spec.DataDir,
			Target: spec.MountPath,
		}},
	}
	return client.ContainerCreateOptions{
		Name:       ContainerName(spec.InstanceID),
		Config:     cfg,
		HostConfig: host,
	}, nil
}

// stopAction reads a template's stop command: "^SIGNAL" (or "^C" for
// SIGINT) sends a signal, empty sends SIGTERM, and anything else is typed
// on the console followed by a newline.
func stopAction(stopCommand string) (signal, input string) {
	name, isSignal := strings.CutPrefix(stopCommand, "^")
	switch {
	case stopCommand == "":
		return "SIGTERM", ""
	case !isSignal || name == "":
		return "", stopCommand + "\n"
	case strings.EqualFold(name, "C"):
		return "SIGINT", ""
	}
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	return name, ""
}
