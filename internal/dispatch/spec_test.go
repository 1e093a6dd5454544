package dispatch_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/store"
)

// TestSpecCarriesTheTemplate checks what a template puts in the spec sent
// to the node: the rendered startup (also as STARTUP), the variables and
// built-ins as env, the stop command, readiness, install and downloads.
func TestSpecCarriesTheTemplate(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tmpl, err := images.Import([]byte(`{"Format": "berth/v1", "Name": "Spec", "Image": "busybox",
		"Env": ["MODE=test"], "Startup": "./srv -m {{SERVER_MEMORY}} -p {{SERVER_PORT}} -l {{LEVEL}}",
		"StopCommand": "^SIGINT", "ReadyPatterns": ["regex:^ready$"], "MountPath": "/data",
		"Variables": {"LEVEL": {"default": "world"}},
		"Scripts": {"Install": [{"Uri": "https://example.com/{{LEVEL}}.zip", "Path": "maps/level.zip"}],
			"Installer": {"Image": "alpine:3", "Entrypoint": "ash", "Script": "echo hi"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err = st.SaveTemplate(ctx, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	bindings, err := ports.Parse("25565:30000")
	if err != nil {
		t.Fatal(err)
	}
	in := store.Instance{ID: "i1", Generation: 1, Image: "busybox", MemoryMiB: 1024, CPU: 1, Ports: bindings,
		Primary: bindings[0], TemplateID: tmpl.ID, Variables: map[string]string{"LEVEL": "nether"},
		Desired: nodeapi.DesiredRunning, CreatedAt: time.Now()}
	spec, err := dispatch.Spec(ctx, st, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(); err != nil {
		t.Fatalf("spec does not validate: %v", err)
	}
	startup := "./srv -m 1024 -p 25565 -l nether"
	want := nodeapi.InstanceSpec{
		ID: "i1", Generation: 1, Image: "busybox", MemoryMiB: 1024, CPU: 1,
		Ports: []nodeapi.Port{{Container: 25565, Host: 30000}}, PrimaryPort: 25565, Desired: nodeapi.DesiredRunning,
		Env: map[string]string{"MODE": "test", "LEVEL": "nether", "STARTUP": startup,
			"SERVER_MEMORY": "1024", "SERVER_IP": "0.0.0.0"},
		Startup: startup, StopCommand: "^SIGINT", MountPath: "/data", ReadyPatterns: []string{"regex:^ready$"},
		Install:   &nodeapi.InstallSpec{Image: "alpine:3", Entrypoint: "ash", Script: "echo hi"},
		Downloads: []nodeapi.Download{{URL: "https://example.com/nether.zip", Path: "maps/level.zip"}},
	}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec =\n%+v\nwant\n%+v", spec, want)
	}
}

// TestSpecGivesANewVariableItsDefault: an instance deployed before its
// template was replaced by a version with another variable gets that
// variable's default, in the environment and in the startup.
func TestSpecGivesANewVariableItsDefault(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tmpl, err := st.SaveTemplate(ctx, images.Template{Name: "Grown", Image: "busybox", Startup: "./srv {{NEW}} {{OLD}}",
		Variables: map[string]images.Variable{"OLD": {Default: "o"}, "NEW": {Default: "fresh"}}})
	if err != nil {
		t.Fatal(err)
	}
	bindings, err := ports.Parse("25565")
	if err != nil {
		t.Fatal(err)
	}
	in := store.Instance{ID: "i1", Generation: 2, Image: "busybox", MemoryMiB: 64, CPU: 1, Ports: bindings,
		Primary: bindings[0], TemplateID: tmpl.ID, Variables: map[string]string{"OLD": "mine"}}
	spec, err := dispatch.Spec(ctx, st, in)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Env["NEW"] != "fresh" || spec.Env["OLD"] != "mine" || spec.Startup != "./srv fresh mine" {
		t.Errorf("env %v, startup %q; want NEW=fresh beside OLD=mine", spec.Env, spec.Startup)
	}
}
