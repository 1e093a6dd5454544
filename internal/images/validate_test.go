package images

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

// loaderAndRuntimeEnv are names nodeapi.CheckEnvName refuses: each entry of
// its list, and several of each prefix.
var loaderAndRuntimeEnv = []string{
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_BIND_NOW",
	"GLIBC_TUNABLES", "GCONV_PATH", "BASH_ENV", "PATH", "DOCKER_HOST", "DOCKER_CERT_PATH",
}

// expectFieldError fails unless err is a fault.Invalid on field whose
// message names want.
func expectFieldError(t *testing.T, what string, err error, field, want string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Field != field || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: got %v, want an Invalid error on %s naming %s", what, err, field, want)
	}
}

func TestTemplatesRefuseLoaderAndRuntimeEnvInEnvAndVariables(t *testing.T) {
	for _, name := range loaderAndRuntimeEnv {
		env := Template{Name: "t", Image: "busybox", Env: []string{"HOME=/home/container", name + "=/home/container/x"}}
		expectFieldError(t, "Env "+name, env.Validate(), "Env[1]", name)

		vars := Template{Name: "t", Image: "busybox", Variables: map[string]Variable{name: {Default: "x"}}}
		expectFieldError(t, "variable "+name, vars.Validate(), "Variables."+name, name)

		doc := fmt.Sprintf(`{"Format": "berth/v1", "Name": "t", "Image": "busybox", "Env": [%q]}`, name+"=x")
		_, err := Import([]byte(doc))
		expectFieldError(t, "imported Env "+name, err, "Env[0]", name)

		doc = fmt.Sprintf(`{"Name": "t", "Image": "alpine:3", "Env": {%q: "x"}}`, name)
		_, err = Import([]byte(doc))
		expectFieldError(t, "Skyport Env object "+name, err, "Env[0]", name)

		doc = fmt.Sprintf(`{"meta": {"version": "PTDL_v2"}, "name": "t", "docker_images": {"Default": "alpine:3"},
			"startup": "./run", "config": {"startup": "{}", "stop": "stop"}, "scripts": {"installation": {"script": "echo"}},
			"variables": [{"name": "v", "env_variable": %q, "default_value": "x", "rules": "string"}]}`, name)
		_, err = Import([]byte(doc))
		expectFieldError(t, "egg env_variable "+name, err, "variables[0]", name)
	}
	// What Docker fills in only when unset stays allowed: the built-ins
	// set HOME, and eggs use HOSTNAME as the server's name.
	ok := Template{Name: "t", Image: "busybox", Env: []string{"HOME=/home/container", "TERM=xterm", "LDAP_URI=x", "PATHS=a"},
		Variables: map[string]Variable{"HOSTNAME": {Default: "My server"}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("ordinary names refused: %v", err)
	}
}

func TestTemplatesRefuseMountPathsOnKernelFolders(t *testing.T) {
	for _, p := range []string{"/", "/proc", "/proc/1/root", "/dev", "/dev/shm", "/sys", "/sys/fs/cgroup",
		"/data/../proc", "/home/../../dev", "//sys", "/proc/", "relative/path"} {
		tmpl := Template{Name: "t", Image: "busybox", MountPath: p}
		expectFieldError(t, "mount path "+p, tmpl.Validate(), "MountPath", "MountPath")

		doc := fmt.Sprintf(`{"Format": "berth/v1", "Name": "t", "Image": "busybox", "MountPath": %q}`, p)
		_, err := Import([]byte(doc))
		expectFieldError(t, "imported mount path "+p, err, "MountPath", "MountPath")
	}
	for _, p := range []string{"", DefaultMountPath, "/procedures", "/devices", "/system", "/srv/sys"} {
		tmpl := Template{Name: "t", Image: "busybox", MountPath: p}
		if err := tmpl.Validate(); err != nil {
			t.Errorf("mount path %q refused: %v", p, err)
		}
	}
}

func TestTemplateBackupCommandsAreConsoleText(t *testing.T) {
	for _, c := range []struct {
		what   string
		cmds   BackupCommands
		field  string
		wantOK bool
	}{
		{"two commands before, one after", BackupCommands{Before: "save-off\nsave-all", After: "save-on"}, "", true},
		{"only after", BackupCommands{After: "save-on"}, "", true},
		{"a NUL", BackupCommands{Before: "save\x00off"}, "BackupCommands.before", false},
		{"an escape", BackupCommands{After: "\x1b[2J"}, "BackupCommands.after", false},
		{"too long", BackupCommands{Before: strings.Repeat("x", maxBackupCommand+1)}, "BackupCommands.before", false},
	} {
		tmpl := Template{Name: "t", Image: "busybox", BackupCommands: &c.cmds}
		err := tmpl.Validate()
		if c.wantOK {
			if err != nil {
				t.Errorf("%s: %v", c.what, err)
			}
			continue
		}
		expectFieldError(t, c.what, err, c.field, c.field)
	}
	doc := `{"Format": "berth/v1", "Name": "t", "Image": "busybox", "BackupCommands": {"before": "save-off", "after": "save-on"}}`
	tmpl, err := Import([]byte(doc))
	if err != nil || tmpl.BackupCommands == nil || tmpl.BackupCommands.Before != "save-off" || tmpl.BackupCommands.After != "save-on" {
		t.Errorf("imported BackupCommands = %+v, %v", tmpl.BackupCommands, err)
	}
}
