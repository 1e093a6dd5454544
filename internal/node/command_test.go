package node

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

// TestNodeCommandReachesTheGame checks POST /v1/instances/{id}/command
// through the panel's client: a line reaches the game's stdin, in order,
// and the console's rules hold: a stopped or suspended instance refuses it
// (409), a line the console would refuse is a 400 naming "command", and
// an unknown instance is a 404.
func TestNodeCommandReachesTheGame(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	c := serveAPI(t, d)
	ctx := context.Background()
	spec := validSpec("cmd")
	ensureOK(t, d, spec)

	for _, line := range []string{"say one", "say two"} {
		if err := c.SendCommand(ctx, spec.ID, line); err != nil {
			t.Fatalf("SendCommand(%q): %v", line, err)
		}
	}
	ct, _ := rt.Container(spec.ID)
	if !slices.Equal(ct.Stdin, []string{"say one", "say two"}) {
		t.Errorf("the game got %q, want the two lines in order", ct.Stdin)
	}

	status := func(err error) (int, string) {
		var ne *nodeapi.Error
		if !errors.As(err, &ne) {
			t.Fatalf("error %v is not the node's answer", err)
		}
		return ne.Status, ne.Message
	}
	for _, bad := range []string{"", "   ", "a\nb", strings.Repeat("x", 5000)} {
		code, msg := status(c.SendCommand(ctx, spec.ID, bad))
		if code != http.StatusBadRequest || !strings.HasPrefix(msg, "command: ") {
			t.Errorf("command %.20q: %d %q, want 400 naming command", bad, code, msg)
		}
	}
	if code, _ := status(c.SendCommand(ctx, "nope", "say hi")); code != http.StatusNotFound {
		t.Errorf("unknown instance: %d, want 404", code)
	}

	if w := power(t, d, spec.ID, nodeapi.ActionKill); w.Code != http.StatusOK {
		t.Fatalf("kill: %d %s", w.Code, w.Body)
	}
	if code, msg := status(c.SendCommand(ctx, spec.ID, "say stopped")); code != http.StatusConflict || msg != errNotRunning.Error() {
		t.Errorf("stopped instance: %d %q, want 409 %q", code, msg, errNotRunning)
	}
	spec.Suspended = true
	ensureOK(t, d, spec)
	if code, _ := status(c.SendCommand(ctx, spec.ID, "say suspended")); code != http.StatusConflict {
		t.Errorf("suspended instance: %d, want 409", code)
	}
	ct, _ = rt.Container(spec.ID)
	if slices.ContainsFunc(ct.Stdin, func(l string) bool { return l != "say one" && l != "say two" && l != spec.StopCommand }) {
		t.Errorf("a refused line reached the game: %q", ct.Stdin)
	}
}
