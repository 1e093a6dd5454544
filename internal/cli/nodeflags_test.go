package cli

import (
	"io"
	"os"
	"testing"

	"github.com/berth-dev/berth/internal/node"
)

func TestContainerUserFlagTakesNumericIDsAndRefusesTheRest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		ok   bool
	}{
		{nil, node.DefaultContainerUser, true},
		{[]string{"-container-user", "1000:1001"}, "1000:1001", true},
		{[]string{"-container-user", "0:0"}, "0:0", true},
		{[]string{"-container-user", "container"}, "", false},
		{[]string{"-container-user", "988"}, "", false},
		{[]string{"-container-user", "988:-1"}, "", false},
		{[]string{"-container-user", "root:root"}, "", false},
	} {
		// Set, so that the test restores it, then unset.
		t.Setenv("BERTH_CONTAINER_USER", "")
		os.Unsetenv("BERTH_CONTAINER_USER")
		fs := newFlags("node")
		fs.SetOutput(io.Discard)
		var got string
		bindContainerUserFlag(fs, &got)
		err := parse(fs, tc.args)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%q: user %q, err %v; want %q, ok %v", tc.args, got, err, tc.want, tc.ok)
		}
	}
}

func TestContainerUserComesFromTheEnvironment(t *testing.T) {
	t.Setenv("BERTH_CONTAINER_USER", "1000:1000")
	fs := newFlags("node")
	var got string
	bindContainerUserFlag(fs, &got)
	if err := parse(fs, nil); err != nil || got != "1000:1000" {
		t.Errorf("user %q, err %v; want 1000:1000 from BERTH_CONTAINER_USER", got, err)
	}
}

func TestRuntimeFlagsRefuseByDefaultAndComeFromFlagsOrTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env                   map[string]string
		args                  []string
		registries, hostReach bool
	}{
		{nil, nil, false, false},
		{nil, []string{"-allow-private-registries"}, true, false},
		{nil, []string{"-allow-instance-host-access"}, false, true},
		{map[string]string{"BERTH_ALLOW_PRIVATE_REGISTRIES": "true", "BERTH_ALLOW_INSTANCE_HOST_ACCESS": "1"}, nil, true, true},
		{map[string]string{"BERTH_ALLOW_INSTANCE_HOST_ACCESS": "true"}, []string{"-allow-instance-host-access=false"}, false, false},
	} {
		for _, name := range []string{"BERTH_ALLOW_PRIVATE_REGISTRIES", "BERTH_ALLOW_INSTANCE_HOST_ACCESS"} {
			t.Setenv(name, tc.env[name])
			if tc.env[name] == "" {
				os.Unsetenv(name)
			}
		}
		fs := newFlags("node")
		fs.SetOutput(io.Discard)
		s := bindNodeFlags(fs)
		if err := parse(fs, tc.args); err != nil {
			t.Fatalf("%v %q: %v", tc.env, tc.args, err)
		}
		if s.runtime.allowPrivateRegistries != tc.registries || s.runtime.allowHostAccess != tc.hostReach {
			t.Errorf("%v %q: registries %v, host access %v; want %v, %v", tc.env, tc.args,
				s.runtime.allowPrivateRegistries, s.runtime.allowHostAccess, tc.registries, tc.hostReach)
		}
	}
}
