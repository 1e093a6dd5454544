package docker_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// lockedBuffer is a bytes.Buffer that RunInstall may write while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// installJob is a job of script in the busybox image for a fresh instance
// whose containers are removed when the test ends.
func installJob(t *testing.T, cli *client.Client, script string) runtime.InstallJob {
	t.Helper()
	id := dockertest.InstanceID(t)
	dockertest.Cleanup(t, cli, id)
	return runtime.InstallJob{
		InstanceID: id,
		Image:      dockertest.BusyboxImage(t),
		Script:     script,
		Env:        []string{"GREETING=hello from env"},
		DataDir:    t.TempDir(),
		MemoryMiB:  128,
		CPU:        0.5,
		PidsLimit:  64,
	}
}

// expectNoContainers fails if anything of the instance is left on the
// engine after what.
func expectNoContainers(t *testing.T, f *fixture, id, what string) {
	t.Helper()
	if list := dockertest.Containers(t, f.cli, id); len(list) != 0 {
		t.Errorf("%s left %d container(s): %+v", what, len(list), list)
	}
}

func TestRunInstallWritesIntoDataFolderAndStreamsOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	job := installJob(t, f.cli, `set -e
echo "$GREETING"
echo to-stderr >&2
pwd
echo installed > /mnt/server/installed.txt
mkdir -p /mnt/server/sub && echo nested > /mnt/server/sub/file
if echo tamper > /mnt/install/install.sh; then echo SCRIPT-WRITABLE; fi
`)
	var out lockedBuffer
	code, err := f.rt.RunInstall(t.Context(), job, &out)
	if err != nil {
		t.Fatalf("RunInstall: %v\noutput:\n%s", err, out.String())
	}
	if code != 0 {
		t.Fatalf("exit code %d, want 0; output:\n%s", code, out.String())
	}
	for _, want := range []string{"hello from env", "to-stderr", runtime.InstallMountPath} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "SCRIPT-WRITABLE") {
		t.Error("the script's folder is writable from inside the install container")
	}
	for name, want := range map[string]string{"installed.txt": "installed\n", "sub/file": "nested\n"} {
		b, err := os.ReadFile(filepath.Join(job.DataDir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s in the data folder = %q, %v; want %q", name, b, err, want)
		}
	}
	expectNoContainers(t, f, job.InstanceID, "install")
}

func TestRunInstallReportsNonZeroExitCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	job := installJob(t, f.cli, "echo about to fail\nexit 3\n")
	var out lockedBuffer
	code, err := f.rt.RunInstall(t.Context(), job, &out)
	if err != nil {
		t.Fatalf("RunInstall: %v", err)
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if !strings.Contains(out.String(), "about to fail") {
		t.Errorf("output lacks the script's last words:\n%s", out.String())
	}
	expectNoContainers(t, f, job.InstanceID, "failed install")
}

func TestRunInstallContainerIsLimitedLabelledAndNotListed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The script waits for the test to look at its container.
	job := installJob(t, f.cli, "echo waiting\nwhile [ ! -f /mnt/server/go ]; do sleep 0.1; done\necho done\n")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	var out lockedBuffer
	go func() {
		code, err := f.rt.RunInstall(t.Context(), job, &out)
		done <- result{code, err}
	}()

	var c container.InspectResponse
	poll(t, "the running install container", func() (bool, error) {
		res, err := f.cli.ContainerInspect(t.Context(), docker.InstallContainerName(job.InstanceID), client.ContainerInspectOptions{})
		if err != nil {
			return false, nil
		}
		c = res.Container
		return c.State != nil && c.State.Running, nil
	}, out.String)

	hc := c.HostConfig
	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"Memory is 128 MiB", hc.Memory == 128<<20, hc.Memory},
		{"MemorySwap equals Memory", hc.MemorySwap == hc.Memory, hc.MemorySwap},
		{"NanoCPUs is 0.5 core", hc.NanoCPUs == 5e8, hc.NanoCPUs},
		{"PidsLimit is 64", hc.PidsLimit != nil && *hc.PidsLimit == 64, hc.PidsLimit},
		{"no-new-privileges", slices.Contains(hc.SecurityOpt, "no-new-privileges"), hc.SecurityOpt},
		{"CapDrop has net_raw and mknod", hasCap(hc.CapDrop, "net_raw") && hasCap(hc.CapDrop, "mknod"), hc.CapDrop},
		{"root file system is writable", !hc.ReadonlyRootfs, hc.ReadonlyRootfs},
		{"instance label", c.Config.Labels[runtime.LabelInstance] == job.InstanceID, c.Config.Labels},
		{"install role label", c.Config.Labels[runtime.LabelRole] == runtime.RoleInstall, c.Config.Labels},
		{"not labelled managed", c.Config.Labels[runtime.LabelManaged] == "", c.Config.Labels},
		{"data folder at /mnt/server", slices.ContainsFunc(c.Mounts, func(m container.MountPoint) bool {
			return m.Source == job.DataDir && m.Destination == runtime.InstallMountPath && m.RW
		}), c.Mounts},
		{"script folder read-only at /mnt/install", slices.ContainsFunc(c.Mounts, func(m container.MountPoint) bool {
			return m.Destination == runtime.InstallScriptDir && !m.RW
		}), c.Mounts},
		{"entrypoint is sh and the script", slices.Equal(c.Config.Entrypoint, []string{"sh", "/mnt/install/install.sh"}),
			c.Config.Entrypoint},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: got %v", ch.name, ch.got)
		}
	}
	states, err := f.rt.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(states, func(s runtime.State) bool { return s.InstanceID == job.InstanceID }) {
		t.Error("List reports the install container as an instance")
	}

	if err := os.WriteFile(filepath.Join(job.DataDir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.code != 0 {
			t.Fatalf("RunInstall = %d, %v; output:\n%s", r.code, r.err, out.String())
		}
	case <-time.After(waitLimit):
		t.Fatalf("install did not end after it was let go; output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "done") {
		t.Errorf("output lacks the script's last line:\n%s", out.String())
	}
}

func TestRunInstallCanceledKillsAndRemovesTheContainer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	job := installJob(t, f.cli, "echo started\nsleep 600\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		_, err := f.rt.RunInstall(ctx, job, &out)
		done <- err
	}()
	poll(t, "the script's first line", func() (bool, error) {
		return strings.Contains(out.String(), "started"), nil
	}, out.String)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("RunInstall after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("RunInstall did not return after its context was canceled")
	}
	expectNoContainers(t, f, job.InstanceID, "canceled install")
}

func TestRunInstallReplacesLeftoverContainerAndUsesEntrypoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	job := installJob(t, f.cli, "echo \"args: $0 $1\"\n")
	// What a daemon killed mid-install leaves: a container of that name.
	_, err := f.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:   docker.InstallContainerName(job.InstanceID),
		Config: &container.Config{Image: job.Image, Labels: map[string]string{runtime.LabelInstance: job.InstanceID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	job.Entrypoint = "sh -e"
	var out lockedBuffer
	code, err := f.rt.RunInstall(t.Context(), job, &out)
	if err != nil || code != 0 {
		t.Fatalf("RunInstall = %d, %v; output:\n%s", code, err, out.String())
	}
	if !strings.Contains(out.String(), "args: /mnt/install/install.sh") {
		t.Errorf("script was not run as its own file by the entrypoint; output:\n%s", out.String())
	}
}

func TestRunInstallOfMissingImageFailsAsImageError(t *testing.T) {
	t.Parallel()
	// The image is missing from a "registry" of the test's own on
	// loopback, which the engine may use: it hangs up on every request.
	// An image on Docker Hub would have the engine ask the internet.
	reg := listenLoopback(t)
	f := newFixture(t, docker.AllowPrivateRegistries(true))
	job := installJob(t, f.cli, "true\n")
	job.Image = reg.addr + "/berth-test/no-such-installer:1"
	_, err := f.rt.RunInstall(t.Context(), job, nil)
	if !errors.Is(err, runtime.ErrImage) {
		t.Errorf("RunInstall with a missing image = %v, want runtime.ErrImage", err)
	}
	if reg.connections() == 0 {
		t.Error("the engine never asked the test's registry for the image")
	}
}
