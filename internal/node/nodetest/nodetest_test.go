package nodetest

import (
	"errors"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
)

func TestStartServesTheAPIWithTheRegisteredToken(t *testing.T) {
	var registered int
	n := Start(t, func(port int) string {
		registered = port
		return "berth_node_nodetest-token"
	})
	if registered != n.Port || n.Port == 0 {
		t.Fatalf("registered port %d, daemon on %d", registered, n.Port)
	}
	if _, err := n.Client().Health(t.Context()); err != nil {
		t.Fatalf("health: %v", err)
	}
	wrong := nodeapi.NewClient(n.URL(), "berth_node_other", nil)
	var ne *nodeapi.Error
	if _, err := wrong.ListInstances(t.Context()); !errors.As(err, &ne) || ne.Status != 401 {
		t.Errorf("list with another token: %v, want a 401", err)
	}

	n.Stop()
	n.Stop()
	if _, err := n.Client().Health(t.Context()); !fault.Is(err, fault.Unavailable) {
		t.Errorf("health of a stopped node: %v, want it unreachable", err)
	}
}
