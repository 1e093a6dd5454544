package docker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
)

func TestStopBySignalReachesTheGameUnderAStartupLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, startup string
		wantLog       string
	}{
		{"simple", "/gameserver", ""},
		// The game is the shell's child here, not the shell itself, and
		// the shell has more to do after it.
		{"compound", `echo starting; /gameserver; echo "game exited with $?"`, "game exited with 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			spec := f.spec(t)
			spec.Image = dockertest.ShellGameServerImage(t)
			spec.Cmd = runtime.ShellCommand(tc.startup)
			// The game takes a while to save after the signal: an init that
			// ended the container as soon as the shell died would kill it
			// first, and it would leave no record.
			spec.Env = append(spec.Env, "GAMESERVER_SAVE_DELAY=500ms")
			f.startReady(t, spec)

			if err := f.rt.Stop(t.Context(), spec.InstanceID, "^SIGTERM", 20*time.Second); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			st, err := f.rt.Inspect(t.Context(), spec.InstanceID)
			if err != nil || st.Running || st.ExitCode != 0 {
				t.Errorf("after Stop: %+v, %v; want exited with 0", st, err)
			}
			b, err := os.ReadFile(filepath.Join(spec.DataDir, "signal.txt"))
			if err != nil || string(b) != "terminated\n" {
				lines, _ := f.rt.Logs(t.Context(), spec.InstanceID, 0)
				t.Fatalf("signal.txt = %q, %v; want the game to have saved after SIGTERM. Output:\n%s",
					b, err, strings.Join(lines, "\n"))
			}
			f.waitLog(t, spec.InstanceID, "Saved after signal: terminated")
			if tc.wantLog != "" {
				f.waitLog(t, spec.InstanceID, tc.wantLog)
			}
		})
	}
}
