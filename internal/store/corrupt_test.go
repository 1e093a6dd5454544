package store_test

import (
	"slices"
	"time"

	"testing"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// testCorruptRowIsAnInternalError: a stored instance whose ports no longer
// parse is the database's fault, not the caller's: an internal error (a
// 500, logged), never Invalid (a 400). A list leaves the bad row out and
// returns the others beside the error, so that a caller able to go on, the
// reconciler, still has them.
func testCorruptRowIsAnInternalError(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	mustCreate(t, st, instance(t, "bad", "u", "n", "81"))
	mustCreate(t, st, instance(t, "c", "u", "n", "82"))
	if err := store.ExecRaw(ctx, st, `UPDATE instances SET ports = 'not:ports:at:all' WHERE id = 'bad'`); err != nil {
		t.Fatal(err)
	}
	list, err := st.ListInstances(ctx)
	if err == nil || fault.KindOf(err) != fault.Other {
		t.Errorf("list with a corrupt row: error %v (kind %v), want an internal error", err, fault.KindOf(err))
	}
	if len(list) != 2 || list[0].ID != "a" || list[1].ID != "c" {
		t.Errorf("list with a corrupt row returned %d instance(s) %v, want a and c", len(list), keys(list, func(in store.Instance) string { return in.ID }))
	}
	due, err := st.DueInstances(ctx, "n", time.Now())
	if fault.KindOf(err) != fault.Other || len(due) != 2 {
		t.Errorf("due instances with a corrupt row: %d and %v, want the 2 others and an internal error", len(due), err)
	}
	_, err = st.InstanceByID(ctx, "bad")
	if err == nil || fault.KindOf(err) != fault.Other {
		t.Errorf("the corrupt row itself: error %v (kind %v), want an internal error", err, fault.KindOf(err))
	}
}

// testDueNodeRemovalsListsOneNode: each node's worker reads its own
// removals only, filtered by the database rather than after reading every
// node's.
func testDueNodeRemovalsListsOneNode(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n1", 8192, 10240, true)
	addNode(t, st, "n2", 8192, 10240, true)
	for _, in := range []store.Instance{instance(t, "a", "u", "n1", "80"), instance(t, "b", "u", "n2", "80"),
		instance(t, "c", "u", "n1", "81")} {
		mustCreate(t, st, in)
		if err := st.DeleteInstance(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
	}
	for node, want := range map[string][]string{"n1": {"a", "c"}, "n2": {"b"}, "n3": {}} {
		list, err := st.DueNodeRemovals(ctx, node, time.Now())
		got := keys(list, func(r store.Removal) string { return r.InstanceID })
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("removals due on %s = %q, %v; want %q", node, got, err, want)
		}
	}
}
