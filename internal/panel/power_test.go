package panel_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/nodeapi"
)

func TestPowerSendsTheGenerationItRecordedAndAnswersTheNewState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		node, n := startNode(t, p)
		id := p.deploy(deployBody(p.createUser("owner"), node, "25565", "25565"))
		ctx := context.Background()
		// As the reconciler would: applied, running and READY.
		applyOnNode(t, p, n, id)

		for _, tc := range []struct {
			action, status, desired, method string
		}{
			{nodeapi.ActionStop, nodeapi.StatusStopped, nodeapi.DesiredStopped, "Stop"},
			{nodeapi.ActionStart, nodeapi.StatusRunning, nodeapi.DesiredRunning, "Start"},
			{nodeapi.ActionKill, nodeapi.StatusStopped, nodeapi.DesiredStopped, "Kill"},
		} {
			before, err := p.st.InstanceByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			// What a reconciler pass already in flight would send: the
			// spec of the desire before this action.
			stale, err := dispatch.Spec(ctx, p.st, before)
			if err != nil {
				t.Fatal(err)
			}
			calls := n.Runtime.Calls(tc.method)

			m := p.expect(200, "POST", "/api/instances/power/"+id, map[string]any{"action": tc.action}).object(t)
			if m["Status"] != tc.status {
				t.Errorf("power %s answered Status %v, want %s", tc.action, m["Status"], tc.status)
			}
			in, err := p.st.InstanceByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if in.Desired != tc.desired || in.Status != tc.status || in.Generation <= before.Generation {
				t.Errorf("after %s: desired %s, status %s at generation %d (was %d)",
					tc.action, in.Desired, in.Status, in.Generation, before.Generation)
			}
			if n.Runtime.Calls(tc.method) == calls {
				t.Errorf("power %s never reached the runtime's %s", tc.action, tc.method)
			}
			running := tc.status == nodeapi.StatusRunning
			if c, _ := n.Runtime.Container(id); c.State.Running != running {
				t.Errorf("after %s the server's running is %v, want %v", tc.action, c.State.Running, running)
			}
			// The node was sent the generation the desire was recorded
			// at, so it tells the older ensure from the reconciler.
			expectStaleEnsureIgnored(t, n, stale, running)
		}
	})
}
