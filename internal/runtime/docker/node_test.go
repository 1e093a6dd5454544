package docker_test

import (
	"slices"
	"testing"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

func TestTwoNodesSharingAnEngineEachListOnlyTheirOwnContainers(t *testing.T) {
	t.Parallel()
	// Node IDs of this run alone, so that other tests' containers on the
	// engine cannot be counted either.
	nodeA, nodeB := dockertest.InstanceID(t), dockertest.InstanceID(t)
	a := newFixture(t, docker.WithNodeID(nodeA))
	b := newFixture(t, docker.WithNodeID(nodeB))
	specA, specB := a.spec(t), b.spec(t)
	createdA, createdB := a.ensure(t, specA), b.ensure(t, specB)

	for _, tc := range []struct {
		name        string
		f           *fixture
		own, other  string
		ownID, node string
	}{
		{"A", a, specA.InstanceID, specB.InstanceID, createdA.ContainerID, nodeA},
		{"B", b, specB.InstanceID, specA.InstanceID, createdB.ContainerID, nodeB},
	} {
		list, err := tc.f.rt.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(list))
		for i, st := range list {
			ids[i] = st.InstanceID
		}
		if !slices.Equal(ids, []string{tc.own}) {
			t.Errorf("node %s lists %q, want only its own %s (not %s)", tc.name, ids, tc.own, tc.other)
		}
		res, err := tc.f.cli.ContainerInspect(t.Context(), tc.ownID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Container.Config.Labels[runtime.LabelNode]; got != tc.node {
			t.Errorf("node %s's container has %s=%q, want %q", tc.name, runtime.LabelNode, got, tc.node)
		}
	}
}
