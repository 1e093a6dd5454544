package node

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// waitInstallContainer polls the engine until the instance's install
// container runs.
func (n *dockerNode) waitInstallContainer(t *testing.T, id string) {
	t.Helper()
	waitForLong(t, "the install container of "+id, func() bool {
		res, err := n.cli.ContainerInspect(t.Context(), docker.InstallContainerName(id), client.ContainerInspectOptions{})
		return err == nil && res.Container.State != nil && res.Container.State.Running
	})
}

// waitForLong is waitFor with the patience a real engine needs.
func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// gatedInstallSpec is a spec whose busybox install script waits for a
// file named go in the data folder, then writes done.txt.
func (n *dockerNode) gatedInstallSpec(t *testing.T) nodeapi.InstanceSpec {
	t.Helper()
	spec := n.spec(t)
	spec.Install = &nodeapi.InstallSpec{Image: dockertest.BusyboxImage(t), Entrypoint: "sh",
		Script: "echo waiting\nwhile [ ! -f /mnt/server/go ]; do sleep 0.1; done\necho ok > /mnt/server/done.txt\n"}
	return spec
}

func TestDockerInstallInterruptedByShutdownLeavesNoContainerAndRunsAgain(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	spec := n.gatedInstallSpec(t)
	if st := ensureOK(t, n.d, spec); !st.Installing {
		t.Fatalf("ensure answered %+v, want installing", st)
	}
	n.waitInstallContainer(t, spec.ID)

	n.d.Close()
	if list := dockertest.Containers(t, n.cli, spec.ID); len(list) != 0 {
		t.Errorf("a closed daemon left %d container(s): %+v", len(list), list)
	}

	n.d = n.restart(t)
	data := n.d.volumes.Path(spec.ID)
	if err := os.WriteFile(filepath.Join(data, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := ensureOK(t, n.d, spec); !st.Installing {
		t.Errorf("ensure after the restart answered %+v, want installing again", st)
	}
	waitForLong(t, "the instance to run after the install", func() bool {
		st := getStatus(t, n.d, spec.ID)
		return st.Running && !st.Installing
	})
	n.runningContainer(t, spec.ID)
	if b, err := os.ReadFile(filepath.Join(data, "done.txt")); err != nil || string(b) != "ok\n" {
		t.Errorf("done.txt = %q, %v; want the second install's output", b, err)
	}
	log := installLog(t, n.d, spec.ID, "")
	if !log.Installed || log.Installing || !strings.Contains(strings.Join(log.Lines, "\n"), "install script exited with code 0") {
		t.Errorf("install log after the rerun = %+v", log)
	}
}

func TestDockerRemoveDeletesAnInstallContainerAKilledDaemonLeft(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	spec := n.gatedInstallSpec(t)
	// What a daemon killed mid-install leaves: a record saying the install
	// runs, and its install container, still running.
	if err := n.d.records.Save(spec.ID, records.Record{Spec: spec, Install: records.Install{Running: true}}); err != nil {
		t.Fatal(err)
	}
	if err := n.d.volumes.Create(spec.ID); err != nil {
		t.Fatal(err)
	}
	created, err := n.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name: docker.InstallContainerName(spec.ID),
		Config: &container.Config{Image: dockertest.BusyboxImage(t), Cmd: []string{"sleep", "600"},
			Labels: map[string]string{runtime.LabelInstance: spec.ID, runtime.LabelRole: runtime.RoleInstall}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.cli.ContainerStart(t.Context(), created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}

	if w := call(t, n.d, http.MethodDelete, "/v1/instances/"+spec.ID, nil); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body)
	}
	if list := dockertest.Containers(t, n.cli, spec.ID); len(list) != 0 {
		t.Errorf("removal left %d container(s): %+v", len(list), list)
	}
	if _, err := os.Stat(n.d.volumes.Path(spec.ID)); !os.IsNotExist(err) {
		t.Errorf("data folder after the removal: %v, want it gone", err)
	}
}

func TestDockerInstanceRunsAsTheContainerUserAndWritesItsDataFolder(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	n := newDockerNode(t)
	spec := n.spec(t)
	ensureOK(t, n.d, spec)
	c := n.runningContainer(t, spec.ID)
	res, err := n.cli.ContainerInspect(t.Context(), c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Container.Config.User != DefaultContainerUser {
		t.Errorf("container runs as %q, want %q", res.Container.Config.User, DefaultContainerUser)
	}
	// The game server writes ready.txt into its working folder once it
	// listens: it can only if the data folder lets its user in.
	ready := filepath.Join(n.d.volumes.Path(spec.ID), "ready.txt")
	waitForLong(t, "ready.txt in the data folder", func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	if u, g := ownerOf(t, ready); u != containerUID || g != containerUID {
		t.Errorf("ready.txt is owned by %d:%d, want %d:%d", u, g, containerUID, containerUID)
	}
}

func TestDockerInstallOutputGoesToTheContainerUserFollowingNoLink(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	n := newDockerNode(t)
	sentinel := filepath.Join(t.TempDir(), "sentinel.txt")
	if err := os.WriteFile(sentinel, []byte("keep my owner"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := n.spec(t)
	// The host path means nothing inside the install container, but the
	// link is followed on the host, where the node walks the folder.
	spec.Install = &nodeapi.InstallSpec{Image: dockertest.BusyboxImage(t), Entrypoint: "sh",
		Script: "set -e\ncd /mnt/server\nmkdir -p config/deep\necho x > config/deep/a.cfg\necho jar > server.jar\n" +
			"/bin/busybox ln -s " + sentinel + " escape\n/bin/busybox ln -s " + filepath.Dir(sentinel) + " escape-dir\n"}
	ensureOK(t, n.d, spec)
	waitForLong(t, "the instance to run after the install", func() bool {
		st := getStatus(t, n.d, spec.ID)
		return st.Running && !st.Installing
	})
	if log := installLog(t, n.d, spec.ID, ""); !log.Installed {
		t.Fatalf("install log = %+v, want installed", log)
	}
	data := n.d.volumes.Path(spec.ID)
	for _, name := range []string{"config/deep/a.cfg", "server.jar", "escape", "escape-dir"} {
		if _, err := os.Lstat(filepath.Join(data, name)); err != nil {
			t.Errorf("the install script's %s: %v", name, err)
		}
	}
	expectTreeOwnedBy(t, data, containerUID, containerUID)
	for _, p := range []string{sentinel, filepath.Dir(sentinel)} {
		if u, g := ownerOf(t, p); u != 0 || g != 0 {
			t.Errorf("ESCAPE: %s, outside the data folder, is now owned by %d:%d", p, u, g)
		}
	}
}
