package dockertest

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

func TestGameServerImageIsBuiltOnceAndRunsTheGame(t *testing.T) {
	cli := RequireDocker(t)
	ref := GameServerImage(t)
	if again := GameServerImage(t); again != ref {
		t.Errorf("second call gave %q, want the cached %q", again, ref)
	}
	if !strings.HasPrefix(ref, "berth-test/gameserver:") {
		t.Errorf("ref = %q, want a berth-test/gameserver tag", ref)
	}
	img, err := cli.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := img.Config; cfg == nil || !slices.Equal(cfg.Cmd, []string{"/gameserver"}) || cfg.WorkingDir != runtime.DefaultMountPath {
		t.Errorf("image config = %+v, want CMD /gameserver in %s", cfg, runtime.DefaultMountPath)
	}
	out := runToExit(t, cli, ref, []string{"GAMESERVER_EXIT_CODE=0"}, nil)
	if !strings.Contains(out, "Server ready on port 25565") {
		t.Errorf("output = %q, want the ready line", out)
	}
}

func TestBusyboxImageHasShellAndApplets(t *testing.T) {
	cli := RequireDocker(t)
	ref := BusyboxImage(t)
	if !strings.HasPrefix(ref, "berth-test/busybox:") {
		t.Errorf("ref = %q, want a berth-test/busybox tag", ref)
	}
	out := runToExit(t, cli, ref, nil, []string{"sh", "-c", "echo hi | sed s/hi/ok/ && [ -x /bin/wget ] && pwd"})
	if want := "ok\n" + runtime.DefaultMountPath + "\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}
}

func TestFreePortIsFreeForTCPAndUDP(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("tcp port %d not free: %v", port, err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("udp port %d not free: %v", port, err)
	}
	pc.Close()
}

func TestInstanceIDsDiffer(t *testing.T) {
	a, b := InstanceID(t), InstanceID(t)
	if a == b || !strings.HasPrefix(a, "test-") {
		t.Errorf("InstanceID gave %q and %q, want distinct test- IDs", a, b)
	}
}

// runToExit runs image to completion in a labelled container that Cleanup
// removes, and returns what it printed.
func runToExit(t *testing.T, cli *client.Client, image string, env, cmd []string) string {
	t.Helper()
	id := InstanceID(t)
	Cleanup(t, cli, id)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "berth-" + id,
		Config: &container.Config{
			Image:  image,
			Env:    env,
			Cmd:    cmd,
			Tty:    true,
			Labels: map[string]string{runtime.LabelInstance: id},
		},
		HostConfig: &container.HostConfig{ReadonlyRootfs: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	wait := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 0 {
			t.Errorf("container exited with %d", res.StatusCode)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	b, err := io.ReadAll(logs)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
}
