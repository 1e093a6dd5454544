package node

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

// TestNodeConsoleNeverStopsTheInstance checks that power goes only
// through the power endpoint, with the panel's generation: a power event
// on the node's console is refused, and the template's stop command typed
// there reaches the game's stdin like any other line.
func TestNodeConsoleNeverStopsTheInstance(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("typed")
	ensureOK(t, d, spec)
	con := dialConsole(t, serveAPI(t, d), spec.ID)
	con.waitStatus(t, nodeapi.StatusRunning)

	for _, action := range []string{nodeapi.ActionStop, nodeapi.ActionKill, nodeapi.ActionRestart} {
		con.send(t, nodeapi.EventPower, action)
		con.waitError(t, "power actions go through the panel")
	}
	con.send(t, nodeapi.EventCommand, spec.StopCommand)
	waitFor(t, "the stop command on the game's stdin", func() bool {
		c, _ := rt.Container(spec.ID)
		return slices.Contains(c.Stdin, spec.StopCommand)
	})
	if stops, kills := rt.Calls("Stop"), rt.Calls("Kill"); stops+kills != 0 {
		t.Errorf("the console stopped the instance: %d stops, %d kills", stops, kills)
	}
	if st := getStatus(t, d, spec.ID); st.Status != nodeapi.StatusRunning || !st.Running {
		t.Errorf("after the console's power events and stop command: %+v, want running", st)
	}
	if rec := readRecordOf(t, d, spec.ID); rec.StoppedByNode || rec.PowerGeneration != 0 {
		t.Errorf("the console recorded a power action: %+v", rec)
	}
}
