package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// installDroppedCaps are the default capabilities an install container
// gives up. Package managers need the others (chown, setuid and the like),
// but no installer needs raw sockets, with which a script could forge
// traffic on the node's bridge network, nor to make device nodes.
var installDroppedCaps = []string{"net_raw", "mknod"}

// installCleanupTimeout bounds removing an install container once its run
// is over, which happens even when the run's context has ended.
const installCleanupTimeout = 30 * time.Second

// InstallContainerName is the name of instance id's install container.
func InstallContainerName(id string) string {
	return ContainerName(id) + "-" + runtime.RoleInstall
}

// RunInstall runs job's script in a fresh container, berth-<id>-install,
// and removes the container when the script ends or ctx does. Unlike an
// instance's container it has a writable root file system and most of
// Docker's default capabilities, since installers install packages; it
// keeps the limits, no-new-privileges and bounded logs, and drops
// installDroppedCaps.
func (r *Runtime) RunInstall(ctx context.Context, job runtime.InstallJob, output io.Writer) (int, error) {
	if err := validateInstall(job); err != nil {
		return 0, fmt.Errorf("install %s: %w", job.InstanceID, err)
	}
	if output == nil {
		output = io.Discard
	}
	name := InstallContainerName(job.InstanceID)
	// A daemon that died mid-install may have left its container behind.
	if err := r.removeInstallContainer(ctx, name); err != nil {
		return 0, fmt.Errorf("install %s: remove leftover container: %w", job.InstanceID, err)
	}
	if err := r.ensureImage(ctx, job.Image, func(line string) { fmt.Fprintln(output, line) }); err != nil {
		return 0, fmt.Errorf("install %s: %w", job.InstanceID, err)
	}
	scriptDir, err := writeInstallScript(job.Script)
	if err != nil {
		return 0, fmt.Errorf("install %s: %w", job.InstanceID, err)
	}
	defer os.RemoveAll(scriptDir)

	created, err := r.cli.ContainerCreate(ctx, installOptions(job, scriptDir, r.layout()))
	if err != nil {
		return 0, fmt.Errorf("install %s: create container: %w", job.InstanceID, err)
	}
	defer func() {
		// The run's context may be over (a shutdown, a removal); the
		// container must go all the same, killed if it still runs.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), installCleanupTimeout)
		defer cancel()
		_, _ = r.cli.ContainerRemove(cctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()

	if err := r.checkInstallShell(ctx, job, created.ID); err != nil {
		return 0, fmt.Errorf("install %s: %w", job.InstanceID, err)
	}
	// Asked for before the start, so that an exit that comes at once is
	// not missed.
	wait := r.cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := r.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return 0, fmt.Errorf("install %s: start container: %w", job.InstanceID, err)
	}
	if err := r.copyInstallOutput(ctx, created.ID, output); err != nil {
		return 0, fmt.Errorf("install %s: %w", job.InstanceID, err)
	}
	select {
	case res := <-wait.Result:
		if res.Error != nil && res.Error.Message != "" {
			return 0, fmt.Errorf("install %s: wait: %s", job.InstanceID, res.Error.Message)
		}
		return int(res.StatusCode), nil
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return 0, fmt.Errorf("install %s: %w", job.InstanceID, ctx.Err())
		}
		return 0, fmt.Errorf("install %s: wait: %w", job.InstanceID, err)
	}
}

// copyInstallOutput follows the container's output until it exits. Docker
// keeps the log from the start, so nothing printed before the stream is
// opened is lost.
func (r *Runtime) copyInstallOutput(ctx context.Context, containerID string, output io.Writer) error {
	rc, err := r.cli.ContainerLogs(ctx, containerID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: true,
	})
	if err != nil {
		return fmt.Errorf("read output: %w", err)
	}
	defer rc.Close()
	// Without a TTY the stream is multiplexed; both halves go to output,
	// in the order they came.
	if _, err := stdcopy.StdCopy(output, output, rc); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read output: %w", err)
	}
	return nil
}

func (r *Runtime) removeInstallContainer(ctx context.Context, name string) error {
	_, err := r.cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// writeInstallScript writes script into a new temporary folder, readable
// by any user, so that it does not matter who the script runs as.
func writeInstallScript(script string) (string, error) {
	dir, err := os.MkdirTemp("", "berth-install-")
	if err != nil {
		return "", fmt.Errorf("script folder: %w", err)
	}
	err = os.Chmod(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, runtime.InstallScriptName), []byte(script), 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("write script: %w", err)
	}
	return dir, nil
}

// installOptions builds the install container of job, its script in
// scriptDir, with lay's node label and network: installs download, but
// have no more business with the host than the game has.
func installOptions(job runtime.InstallJob, scriptDir string, lay layout) client.ContainerCreateOptions {
	pids := job.PidsLimit
	if pids == 0 {
		pids = DefaultPidsLimit
	}
	memory := job.MemoryMiB << 20
	cfg := &container.Config{
		Image: job.Image,
		// Set as the entrypoint, not the command, so that an image's own
		// entrypoint cannot swallow the script.
		Entrypoint: runtime.InstallCommand(job.Entrypoint),
		Cmd:        []string{},
		Env:        append([]string(nil), job.Env...),
		WorkingDir: runtime.InstallMountPath,
		// Root whatever the image says (installer images may be game
		// images that run as the container user): installers install
		// packages, and the node gives the data folder back to the
		// container user once the script is done.
		User: "0:0",
		Labels: map[string]string{
			runtime.LabelInstance: job.InstanceID,
			runtime.LabelRole:     runtime.RoleInstall,
			runtime.LabelNode:     lay.nodeID,
		},
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(lay.network),
		Resources: container.Resources{
			Memory:     memory,
			MemorySwap: memory,
			NanoCPUs:   int64(math.Round(job.CPU * 1e9)),
			PidsLimit:  &pids,
		},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		SecurityOpt:   []string{"no-new-privileges"},
		CapDrop:       slices.Clone(installDroppedCaps),
		LogConfig: container.LogConfig{
			Type:   "json-file",
			Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles},
		},
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: job.DataDir, Target: runtime.InstallMountPath},
			{Type: mount.TypeBind, Source: scriptDir, Target: runtime.InstallScriptDir, ReadOnly: true},
		},
	}
	return client.ContainerCreateOptions{Name: InstallContainerName(job.InstanceID), Config: cfg, HostConfig: host}
}

// validateInstall reports the first rule job breaks, naming the field.
func validateInstall(job runtime.InstallJob) error {
	switch {
	case job.InstanceID == "":
		return errors.New("job.InstanceID: must not be empty")
	case job.Image == "":
		return errors.New("job.Image: must not be empty")
	case job.Script == "":
		return errors.New("job.Script: must not be empty")
	case !filepath.IsAbs(job.DataDir):
		return fmt.Errorf("job.DataDir: must be an absolute path, got %q", job.DataDir)
	case job.MemoryMiB < 0:
		return fmt.Errorf("job.MemoryMiB: must not be negative, got %d", job.MemoryMiB)
	case job.CPU < 0 || math.IsNaN(job.CPU) || math.IsInf(job.CPU, 0):
		return fmt.Errorf("job.CPU: must be a non-negative number, got %v", job.CPU)
	case job.PidsLimit < 0:
		return fmt.Errorf("job.PidsLimit: must not be negative, got %d", job.PidsLimit)
	}
	return nil
}

// bashPaths are where an entrypoint of "bash" is found in an image.
var bashPaths = []string{"/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"}

// checkInstallShell refuses, in words a template's author understands, to
// run a script whose entrypoint is bash in an image without it (an egg's
// bash script given alpine, say), rather than let the engine fail to
// start it.
func (r *Runtime) checkInstallShell(ctx context.Context, job runtime.InstallJob, container string) error {
	if !runtime.EntrypointNeedsBash(job.Entrypoint) {
		return nil
	}
	paths := bashPaths
	if first := strings.Fields(job.Entrypoint)[0]; filepath.IsAbs(first) {
		paths = []string{first}
	}
	for _, p := range paths {
		ok, err := r.statPath(ctx, container, p)
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("the install script's entrypoint is %q, but image %s has no bash: "+
		"use an image with bash, or the entrypoint ash or sh", job.Entrypoint, job.Image)
}
