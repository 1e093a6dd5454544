package dockertest

import (
	"strings"
	"testing"
)

func TestShellGameServerImageRunsTheGameThroughTheShell(t *testing.T) {
	cli := RequireDocker(t)
	ref := ShellGameServerImage(t)
	if !strings.HasPrefix(ref, "berth-test/gameserver-sh:") {
		t.Errorf("ref = %q, want a berth-test/gameserver-sh tag", ref)
	}
	out := runToExit(t, cli, ref, []string{"GAMESERVER_EXIT_CODE=0"}, []string{"/bin/sh", "-c", "echo via-shell && /gameserver"})
	if !strings.Contains(out, "via-shell") || !strings.Contains(out, "Server ready on port 25565") {
		t.Errorf("output = %q, want the shell's line and the ready line", out)
	}
}
