package docker

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/runtime"
)

func baseSpec() runtime.Spec {
	return runtime.Spec{
		InstanceID: "abc123",
		Image:      "example/game:1",
		MemoryMiB:  1024,
		CPU:        1.5,
		Ports:      []runtime.PortBinding{{Container: 25565, Host: 30001}, {Container: 25575, Host: 30002}},
		Env:        []string{"PRIMARY_PORT=25565", "EULA=true"},
		DataDir:    "/srv/berth/abc123",
	}
}

// testLayout is what a runtime of node n1 on network berth0 adds.
var testLayout = layout{nodeID: "n1", network: DefaultNetwork}

func TestCreateOptionsLabelTheNodeAndJoinItsNetworkUnderAnInit(t *testing.T) {
	spec := baseSpec()
	spec.Env = append(spec.Env, "TINI_KILL_PROCESS_GROUP=0", "TINI_VERBOSITY=3")
	opts, err := createOptions(spec, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	if got := opts.Config.Labels[runtime.LabelNode]; got != "n1" {
		t.Errorf("label %s = %q, want n1", runtime.LabelNode, got)
	}
	if got := opts.HostConfig.NetworkMode; got != DefaultNetwork {
		t.Errorf("NetworkMode = %q, want %s", got, DefaultNetwork)
	}
	if init := opts.HostConfig.Init; init == nil || !*init {
		t.Errorf("Init = %v, want true", init)
	}
	var tini []string
	for _, kv := range opts.Config.Env {
		if strings.HasPrefix(kv, "TINI_") {
			tini = append(tini, kv)
		}
	}
	if !slices.Equal(tini, []string{"TINI_KILL_PROCESS_GROUP=1"}) {
		t.Errorf("TINI_ variables = %q, want only TINI_KILL_PROCESS_GROUP=1, whatever the spec says", tini)
	}
	if !slices.Contains(opts.Config.Env, "EULA=true") {
		t.Errorf("Env = %q lost the spec's variables", opts.Config.Env)
	}
	if !opts.HostConfig.ReadonlyRootfs || !slices.Equal(opts.HostConfig.SecurityOpt, []string{"no-new-privileges"}) ||
		!slices.Equal(opts.HostConfig.CapDrop, droppedCaps) {
		t.Errorf("HostConfig = %+v, want a read-only root, no-new-privileges and dropped capabilities", opts.HostConfig)
	}

	job := runtime.InstallJob{InstanceID: "abc123", Image: "busybox", Script: "true", DataDir: "/srv/berth/abc123"}
	inst := installOptions(job, "/tmp/script", testLayout)
	if got := inst.Config.Labels[runtime.LabelNode]; got != "n1" {
		t.Errorf("install label %s = %q, want n1", runtime.LabelNode, got)
	}
	if got := inst.HostConfig.NetworkMode; got != DefaultNetwork {
		t.Errorf("install NetworkMode = %q, want %s", got, DefaultNetwork)
	}
}

func TestCreateOptionsFollowDesign(t *testing.T) {
	opts, err := createOptions(baseSpec(), testLayout)
	if err != nil {
		t.Fatal(err)
	}
	cfg, hc := opts.Config, opts.HostConfig
	if opts.Name != "berth-abc123" {
		t.Errorf("Name = %q, want berth-abc123", opts.Name)
	}
	if hc.Memory != 1024<<20 || hc.MemorySwap != hc.Memory {
		t.Errorf("Memory = %d, MemorySwap = %d, want both 1 GiB", hc.Memory, hc.MemorySwap)
	}
	if hc.NanoCPUs != 1_500_000_000 {
		t.Errorf("NanoCPUs = %d, want 1.5e9", hc.NanoCPUs)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != DefaultPidsLimit {
		t.Errorf("PidsLimit = %v, want the default %d", hc.PidsLimit, DefaultPidsLimit)
	}
	if !cfg.Tty || !cfg.OpenStdin || !cfg.AttachStdin || !cfg.AttachStdout || !cfg.AttachStderr || cfg.StdinOnce {
		t.Errorf("console settings = %+v, want a TTY with stdin kept open", cfg)
	}
	if cfg.Cmd != nil {
		t.Errorf("Cmd = %q, want the image's own command", cfg.Cmd)
	}
	if cfg.WorkingDir != runtime.DefaultMountPath {
		t.Errorf("WorkingDir = %q, want %q", cfg.WorkingDir, runtime.DefaultMountPath)
	}
	want := []mount.Mount{{Type: mount.TypeBind, Source: "/srv/berth/abc123", Target: runtime.DefaultMountPath}}
	if !slices.Equal(hc.Mounts, want) {
		t.Errorf("Mounts = %+v, want %+v", hc.Mounts, want)
	}
	if got := cfg.Labels; got[runtime.LabelInstance] != "abc123" || got[runtime.LabelManaged] != "true" ||
		got[runtime.LabelSpecHash] != SpecHash(baseSpec()) {
		t.Errorf("Labels = %v", got)
	}
	if !slices.Equal(hc.CapDrop, droppedCaps) || !slices.Equal(hc.SecurityOpt, []string{"no-new-privileges"}) {
		t.Errorf("CapDrop = %v, SecurityOpt = %v", hc.CapDrop, hc.SecurityOpt)
	}
	if !hc.ReadonlyRootfs || hc.Tmpfs["/tmp"] != tmpfsOptions {
		t.Errorf("ReadonlyRootfs = %v, Tmpfs = %v, want a read-only root with a tmpfs /tmp", hc.ReadonlyRootfs, hc.Tmpfs)
	}
	if !hc.RestartPolicy.IsNone() {
		t.Errorf("RestartPolicy = %+v, want none", hc.RestartPolicy)
	}
	if len(cfg.ExposedPorts) != 4 || len(hc.PortBindings) != 4 {
		t.Errorf("ExposedPorts = %v, PortBindings = %v, want tcp and udp for 2 ports", cfg.ExposedPorts, hc.PortBindings)
	}
	for _, p := range []string{"25565/tcp", "25565/udp"} {
		b := hc.PortBindings[network.MustParsePort(p)]
		if len(b) != 1 || b[0].HostPort != "30001" || b[0].HostIP.IsValid() {
			t.Errorf("binding %s = %+v, want 30001 on every address", p, b)
		}
	}
}

func TestCreateOptionsPublishOneContainerPortOnEveryHostPortGiven(t *testing.T) {
	spec := baseSpec()
	spec.Ports = []runtime.PortBinding{{Container: 80, Host: 9001}, {Container: 80, Host: 9000}}
	opts, err := createOptions(spec, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"80/tcp", "80/udp"} {
		b := opts.HostConfig.PortBindings[network.MustParsePort(p)]
		if len(b) != 2 || b[0].HostPort != "9000" || b[1].HostPort != "9001" {
			t.Errorf("binding %s = %+v, want host ports 9000 and 9001", p, b)
		}
	}
}

func TestCreateOptionsUseCmdAndMountPathWhenGiven(t *testing.T) {
	spec := baseSpec()
	spec.Cmd = []string{"/start.sh", "--nogui"}
	spec.MountPath = "/data"
	spec.PidsLimit = 64
	spec.CPU = 0
	opts, err := createOptions(spec, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(opts.Config.Cmd, spec.Cmd) || opts.Config.WorkingDir != "/data" || opts.HostConfig.Mounts[0].Target != "/data" {
		t.Errorf("Cmd = %q, WorkingDir = %q, Mounts = %+v", opts.Config.Cmd, opts.Config.WorkingDir, opts.HostConfig.Mounts)
	}
	if *opts.HostConfig.PidsLimit != 64 || opts.HostConfig.NanoCPUs != 0 {
		t.Errorf("PidsLimit = %d, NanoCPUs = %d, want 64 and unlimited", *opts.HostConfig.PidsLimit, opts.HostConfig.NanoCPUs)
	}
}

func TestCreateOptionsRunAsTheSpecsUser(t *testing.T) {
	spec := baseSpec()
	spec.User = "988:988"
	opts, err := createOptions(spec, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Config.User != "988:988" {
		t.Errorf("User = %q, want 988:988", opts.Config.User)
	}
	if SpecHash(spec) == SpecHash(baseSpec()) {
		t.Error("specs with different users hash the same: a changed user would not recreate the container")
	}
}

func TestCreateOptionsRejectInvalidSpecs(t *testing.T) {
	tests := []struct {
		field  string
		mutate func(*runtime.Spec)
	}{
		{"InstanceID", func(s *runtime.Spec) { s.InstanceID = "" }},
		{"Image", func(s *runtime.Spec) { s.Image = "" }},
		{"MemoryMiB", func(s *runtime.Spec) { s.MemoryMiB = -1 }},
		{"CPU", func(s *runtime.Spec) { s.CPU = -0.5 }},
		{"PidsLimit", func(s *runtime.Spec) { s.PidsLimit = -2 }},
		{"DataDir", func(s *runtime.Spec) { s.DataDir = "relative/dir" }},
		{"MountPath", func(s *runtime.Spec) { s.MountPath = "data" }},
		{"Ports", func(s *runtime.Spec) { s.Ports = []runtime.PortBinding{{Container: 0, Host: 1}} }},
		{"Ports", func(s *runtime.Spec) { s.Ports = []runtime.PortBinding{{Container: 1, Host: 70000}} }},
		{"Ports", func(s *runtime.Spec) {
			s.Ports = []runtime.PortBinding{{Container: 80, Host: 1000}, {Container: 81, Host: 1000}}
		}},
	}
	for _, tt := range tests {
		spec := baseSpec()
		tt.mutate(&spec)
		_, err := createOptions(spec, testLayout)
		if err == nil || !strings.Contains(err.Error(), "spec."+tt.field) {
			t.Errorf("createOptions(bad %s) = %v, want an error naming spec.%s", tt.field, err, tt.field)
		}
	}
}

func TestSpecHashIgnoresDefaultsAndPortOrder(t *testing.T) {
	a := baseSpec()
	b := baseSpec()
	b.MountPath = runtime.DefaultMountPath
	b.PidsLimit = DefaultPidsLimit
	slices.Reverse(b.Ports)
	if SpecHash(a) != SpecHash(b) {
		t.Error("specs that differ only in spelled-out defaults and port order hash differently")
	}
	if len(a.Ports) != 2 || a.Ports[0].Container != 25565 {
		t.Error("SpecHash reordered the caller's ports")
	}
	c := baseSpec()
	c.Env = append(c.Env, "DIFFICULTY=hard")
	if SpecHash(a) == SpecHash(c) {
		t.Error("specs with different environments hash the same")
	}
	if h := SpecHash(a); len(h) != 64 {
		t.Errorf("SpecHash = %q, want 64 hex digits", h)
	}
}

func TestStopAction(t *testing.T) {
	tests := []struct {
		stopCommand, signal, input string
	}{
		{"", "SIGTERM", ""},
		{"stop", "", "stop\n"},
		{"say bye; stop", "", "say bye; stop\n"},
		{"^SIGINT", "SIGINT", ""},
		{"^sigterm", "SIGTERM", ""},
		{"^HUP", "SIGHUP", ""},
		{"^C", "SIGINT", ""},
		{"^c", "SIGINT", ""},
		{"^", "", "^\n"},
	}
	for _, tt := range tests {
		signal, input := stopAction(tt.stopCommand)
		if signal != tt.signal || input != tt.input {
			t.Errorf("stopAction(%q) = %q, %q; want %q, %q", tt.stopCommand, signal, input, tt.signal, tt.input)
		}
	}
}

// TestInstallOptionsKeepLimitsAndDropRawSockets checks the install
// container without an engine: limits, no-new-privileges, bounded logs,
// and no raw sockets or device nodes for the script.
func TestInstallOptionsKeepLimitsAndDropRawSockets(t *testing.T) {
	job := runtime.InstallJob{InstanceID: "abc123", Image: "busybox", Script: "true", DataDir: "/srv/berth/abc123",
		MemoryMiB: 1024, CPU: 2}
	opts := installOptions(job, "/tmp/script", testLayout)
	if opts.Config.User != "0:0" {
		t.Errorf("install User = %q, want root (0:0) whatever the image says", opts.Config.User)
	}
	hc := opts.HostConfig
	if hc.Memory != 1024<<20 || hc.MemorySwap != hc.Memory || hc.NanoCPUs != 2e9 {
		t.Errorf("Memory = %d, MemorySwap = %d, NanoCPUs = %d; want 1 GiB twice and 2e9", hc.Memory, hc.MemorySwap, hc.NanoCPUs)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != DefaultPidsLimit {
		t.Errorf("PidsLimit = %v, want the default %d", hc.PidsLimit, DefaultPidsLimit)
	}
	if !slices.Equal(hc.SecurityOpt, []string{"no-new-privileges"}) {
		t.Errorf("SecurityOpt = %v, want no-new-privileges", hc.SecurityOpt)
	}
	for _, c := range []string{"net_raw", "mknod"} {
		if !slices.Contains(hc.CapDrop, c) {
			t.Errorf("CapDrop = %v, want it to hold %s", hc.CapDrop, c)
		}
	}
	if hc.LogConfig.Config["max-size"] == "" || hc.LogConfig.Config["max-file"] == "" {
		t.Errorf("LogConfig = %+v, want bounded log files", hc.LogConfig)
	}
}
