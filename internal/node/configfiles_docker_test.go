package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/store"
)

// configEgg is an egg shaped like a Minecraft server's, for the shell game
// server image (%s): its startup shows the port server.properties holds
// and the game starts, and the instance is ready only once the port shown
// is the instance's, which holds only if the node rewrote the file before
// the start.
const configEgg = `{
	"meta": {"version": "PTDL_v2"},
	"name": "Config files",
	"docker_images": {"Test": %q},
	"startup": "grep '^server-port=' server.properties && exec /gameserver",
	"config": {
		"files": "{\"server.properties\": {\"parser\": \"properties\", \"find\": {\"server-ip\": \"0.0.0.0\", \"server-port\": \"{{server.build.default.port}}\"}}, \"proxy/config.yml\": {\"parser\": \"yaml\", \"find\": {\"listeners[0].host\": \"{{config.docker.interface}}:{{server.build.default.port}}\"}}}",
		"startup": "{\"done\": [\"regex:^server-port=%d$\"]}",
		"stop": "^C"
	}
}`

// TestDockerTemplateConfigFilesAreRewrittenBeforeTheStart imports an egg
// with config.files, builds the spec the panel sends for an instance of
// it, and has a node on the real engine run it to ready.
func TestDockerTemplateConfigFilesAreRewrittenBeforeTheStart(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	image := dockertest.ShellGameServerImage(t)
	spec := templateSpec(t, fmt.Sprintf(configEgg, image, dockerGamePort), n.spec(t))
	if len(spec.ConfigFiles) != 2 {
		t.Fatalf("spec carries %d config files, want 2", len(spec.ConfigFiles))
	}

	// Created stopped first, so that the game's own file can be put in
	// its folder, as an install would leave it.
	spec.Desired = nodeapi.DesiredStopped
	ensureOK(t, n.d, spec)
	dir := n.d.volumes.Path(spec.ID)
	props := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(props, []byte("#Minecraft server properties\nserver-ip=\nserver-port=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	spec.Desired, spec.Generation = nodeapi.DesiredRunning, spec.Generation+1
	ensureOK(t, n.d, spec)
	var st nodeapi.InstanceStatus
	waitFor(t, "the instance ready: its output shows the rewritten port", func() bool {
		st = getStatus(t, n.d, spec.ID)
		return st.Status == nodeapi.StatusRunning
	})
	if st.Error != "" {
		t.Errorf("status error = %q", st.Error)
	}
	wantFile(t, props, fmt.Sprintf("#Minecraft server properties\nserver-ip=0.0.0.0\nserver-port=%d\n", dockerGamePort))
	wantFile(t, filepath.Join(dir, "proxy/config.yml"), fmt.Sprintf("listeners:\n- host: 0.0.0.0:%d\n", dockerGamePort))
}

// TestDockerBashStartupIsRefusedInAnImageWithoutBash checks the engine's
// answer about /bin/bash in a container that never started.
func TestDockerBashStartupIsRefusedInAnImageWithoutBash(t *testing.T) {
	t.Parallel()
	n := newDockerNode(t)
	spec := n.spec(t)
	spec.Image = dockertest.ShellGameServerImage(t)
	spec.Startup = `[[ -f server.jar ]] || exec /gameserver`
	w := call(t, n.d, http.MethodPut, "/v1/instances/"+spec.ID, spec)
	if w.Code == http.StatusOK {
		t.Fatalf("PUT: %d %s, want a refusal", w.Code, w.Body)
	}
	if msg := errorText(t, w); !strings.Contains(msg, "uses bash syntax ([[)") || !strings.Contains(msg, "has no /bin/bash") {
		t.Errorf("message %q does not say why", msg)
	}
	if list := dockertest.Containers(t, n.cli, spec.ID); len(list) != 1 || list[0].State == "running" {
		t.Errorf("containers = %+v, want one, never started", list)
	}
}

// templateSpec imports doc, stores it, and returns the spec the panel
// sends for an instance of it with base's ID, ports and limits.
func templateSpec(t *testing.T, doc string, base nodeapi.InstanceSpec) nodeapi.InstanceSpec {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tmpl, err := images.Import([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if tmpl, err = st.SaveTemplate(ctx, tmpl); err != nil {
		t.Fatal(err)
	}
	p := base.Ports[0]
	bindings, err := ports.Parse(fmt.Sprintf("%d:%d", p.Container, p.Host))
	if err != nil {
		t.Fatal(err)
	}
	in := store.Instance{ID: base.ID, Generation: base.Generation, Image: tmpl.Image, MemoryMiB: base.MemoryMiB,
		CPU: base.CPU, Ports: bindings, Primary: bindings[0], TemplateID: tmpl.ID, Desired: base.Desired,
		CreatedAt: time.Now()}
	spec, err := dispatch.Spec(ctx, st, in)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
