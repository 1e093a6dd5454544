package nodeapi

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidateInstanceID(t *testing.T) {
	valid := []string{"a", "A-1", "0123456789", strings.Repeat("z", 64), "-"}
	invalid := []string{"", "a.b", "..", "a/b", `a\b`, "a b", "é", "a\x00", "a_b", strings.Repeat("z", 65)}
	for _, id := range valid {
		if err := ValidateInstanceID(id); err != nil {
			t.Errorf("%q rejected: %v", id, err)
		}
	}
	for _, id := range invalid {
		var fe *FieldError
		if err := ValidateInstanceID(id); !errors.As(err, &fe) || fe.Field != "id" {
			t.Errorf("%q: %v, want an id field error", id, err)
		}
	}
}

func TestInstanceSpecValidate(t *testing.T) {
	if err := testSpec().Validate(); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	cases := []struct {
		field  string
		mutate func(*InstanceSpec)
	}{
		{"id", func(s *InstanceSpec) { s.ID = "a/b" }},
		{"generation", func(s *InstanceSpec) { s.Generation = -1 }},
		{"image", func(s *InstanceSpec) { s.Image = "" }},
		{"image", func(s *InstanceSpec) { s.Image = "img\n:1" }},
		{"memoryMiB", func(s *InstanceSpec) { s.MemoryMiB = 0 }},
		{"cpu", func(s *InstanceSpec) { s.CPU = 0 }},
		{"cpu", func(s *InstanceSpec) { s.CPU = math.NaN() }},
		{"cpu", func(s *InstanceSpec) { s.CPU = math.Inf(-1) }},
		{"diskMiB", func(s *InstanceSpec) { s.DiskMiB = -5 }},
		{"ports", func(s *InstanceSpec) { s.Ports = []Port{} }},
		{"ports[0].container", func(s *InstanceSpec) { s.Ports[0].Container = 0 }},
		{"ports[0].host", func(s *InstanceSpec) { s.Ports[0].Host = 70000 }},
		{"ports[1].host", func(s *InstanceSpec) { s.Ports = append(s.Ports, Port{Container: 1, Host: 25565}) }},
		{"primaryPort", func(s *InstanceSpec) { s.PrimaryPort = 0 }},
		{"primaryPort", func(s *InstanceSpec) { s.Ports[0].Host, s.PrimaryPort = 30000, 30000 }},
		{"env", func(s *InstanceSpec) { s.Env = map[string]string{"": "x"} }},
		{"env", func(s *InstanceSpec) { s.Env = map[string]string{"A": "x\x00"} }},
		{"startup", func(s *InstanceSpec) { s.Startup = "a\x00b" }},
		{"mountPath", func(s *InstanceSpec) { s.MountPath = "/" }},
		{"mountPath", func(s *InstanceSpec) { s.MountPath = "/a/../b" }},
		{"desired", func(s *InstanceSpec) { s.Desired = "Running" }},
	}
	for _, tc := range cases {
		s := testSpec()
		tc.mutate(&s)
		var fe *FieldError
		err := s.Validate()
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: got %v, want a %s field error", tc.field, err, tc.field)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.field+": ") {
			t.Errorf("message %q does not start with the field", err)
		}
	}
}

// protectedEnvNames are names CheckEnvName must refuse: every entry of its
// list, and several of each prefix.
var protectedEnvNames = []string{
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_BIND_NOW", "LD_DEBUG_OUTPUT",
	"GLIBC_TUNABLES", "GCONV_PATH", "BASH_ENV", "PATH", "DOCKER_HOST", "DOCKER_CONFIG",
}

func TestInstanceSpecRefusesLoaderAndRuntimeEnvInServerAndInstall(t *testing.T) {
	for _, name := range protectedEnvNames {
		for _, install := range []bool{false, true} {
			s := testSpec()
			s.Env = map[string]string{"SERVER_JARFILE": "server.jar", name: "/home/container/x"}
			if install {
				// The install container runs with the same Env.
				s.Install = &InstallSpec{Image: "debian:bookworm-slim", Entrypoint: "bash", Script: "echo hi"}
			}
			var fe *FieldError
			err := s.Validate()
			if !errors.As(err, &fe) || fe.Field != "env" || !strings.Contains(err.Error(), name) {
				t.Errorf("env %s (install %v): got %v, want an env field error naming it", name, install, err)
			}
		}
	}
	// Look-alikes, and the names Docker fills in only when unset.
	for _, name := range []string{"HOSTNAME", "HOME", "TERM", "LDAP_URL", "PATHS", "MY_PATH", "DOCKERFILE", "ld_preload"} {
		s := testSpec()
		s.Env = map[string]string{name: "x"}
		if err := s.Validate(); err != nil {
			t.Errorf("env %s refused: %v", name, err)
		}
	}
}

func TestInstanceSpecRefusesMountPathsOnKernelFolders(t *testing.T) {
	for _, p := range []string{"/", "/proc", "/proc/self", "/dev", "/dev/shm", "/sys", "/sys/fs/cgroup",
		"/data/../proc", "//proc", "/proc/", "/dev/../sys/kernel", "home/container"} {
		s := testSpec()
		s.MountPath = p
		var fe *FieldError
		err := s.Validate()
		if !errors.As(err, &fe) || fe.Field != "mountPath" || !strings.HasPrefix(err.Error(), "mountPath: ") {
			t.Errorf("mount path %q: got %v, want a mountPath field error", p, err)
		}
	}
	for _, p := range []string{"/home/container", "/procfs", "/devel", "/system", "/srv/dev", "/data/proc"} {
		s := testSpec()
		s.MountPath = p
		if err := s.Validate(); err != nil {
			t.Errorf("mount path %q refused: %v", p, err)
		}
	}
}

// FuzzValidateInstanceID checks that every accepted ID is safe to use as a
// path element and a container name.
func FuzzValidateInstanceID(f *testing.F) {
	for _, s := range []string{"abc", "..", "a/b", "", "A-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateInstanceID(id) != nil {
			return
		}
		if id == "" || len(id) > MaxInstanceIDLen || strings.ContainsAny(id, "./\\\x00 ") || id == "." || id == ".." {
			t.Fatalf("unsafe id %q accepted", id)
		}
	})
}
