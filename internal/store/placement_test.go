package store_test

import (
	"slices"
	"testing"
)

// placementSuite is the store tests of the host ports nodes hold, read by
// the deploy form; runStoreSuite runs them with storeSuite.
var placementSuite = []struct {
	name string
	test func(t *testing.T, db database)
}{
	{"HostPortsListEachNodesPortsInOrder", testHostPorts},
}

func testHostPorts(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n1", 8192, 102400, false)
	addNode(t, st, "n2", 8192, 102400, false)
	mustCreate(t, st, instance(t, "a", "u", "n1", "25570,1:25565"))
	mustCreate(t, st, instance(t, "b", "u", "n1", "25566"))
	mustCreate(t, st, instance(t, "c", "u", "n2", "30000"))
	if err := st.DeleteInstance(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	got, err := st.HostPorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["n1"], []int{25565, 25570}) || !slices.Equal(got["n2"], []int{30000}) || len(got) != 2 {
		t.Errorf("host ports = %v, want n1 [25565 25570] (b's 25566 freed) and n2 [30000]", got)
	}
}
