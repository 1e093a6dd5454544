package store_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// TestCountsByStatusAndStateOnBothBackends: the metrics' node and
// instance counts group the rows by status and state, on SQLite and on
// PostgreSQL, and leave out what no row has.
func TestCountsByStatusAndStateOnBothBackends(t *testing.T) {
	backends := map[string]func(t testing.TB) database{"sqlite": storetest.NewSQLite}
	if base := storetest.PostgresURL(); base != "" {
		backends["postgres"] = func(t testing.TB) database {
			storetest.SkipWithoutPostgres(t)
			return storetest.NewPostgres(t, base)
		}
	}
	for name, fresh := range backends {
		t.Run(name, func(t *testing.T) {
			st := fresh(t)(t)
			empty, err := st.CountInstancesByState(ctx)
			if err != nil || len(empty) != 0 {
				t.Fatalf("instances of an empty database = %v, %v; want none", empty, err)
			}
			addUser(t, st, "u")
			addNode(t, st, "n1", 8192, 10240, true)
			addNode(t, st, "n2", 8192, 10240, true)
			addNode(t, st, "n3", 8192, 10240, false)
			if err := st.SetNodeHealth(ctx, "n1", store.NodeOnline, "v1", 2, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := st.SetNodeHealth(ctx, "n2", store.NodeOffline, "", 0, time.Now()); err != nil {
				t.Fatal(err)
			}
			for i, id := range []string{"a", "b", "c"} {
				mustCreate(t, st, instance(t, id, "u", "n1", fmt.Sprint(80+i)))
			}
			if err := st.MarkFailed(ctx, "c", "install failed"); err != nil {
				t.Fatal(err)
			}
			nodes, err := st.CountNodesByStatus(ctx)
			if want := map[string]int64{store.NodeOnline: 1, store.NodeOffline: 1, store.NodeUnconfigured: 1}; err != nil || !maps.Equal(nodes, want) {
				t.Errorf("nodes by status = %v, %v; want %v", nodes, err, want)
			}
			instances, err := st.CountInstancesByState(ctx)
			if want := map[string]int64{store.StateInstalling: 2, store.StateFailed: 1}; err != nil || !maps.Equal(instances, want) {
				t.Errorf("instances by state = %v, %v; want %v", instances, err, want)
			}
		})
	}
}
