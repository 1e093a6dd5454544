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
