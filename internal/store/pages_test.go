package store_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// pagesSuite tests the keyset pages and the change log behind the patched
// instance list.
var pagesSuite = []struct {
	name string
	test func(t *testing.T, db database)
}{
	{"InstancesChangedSinceNamesTheInstancesWritten", testInstancesChangedSince},
	{"InstancePagesTieBreakOnIdBytewise", testInstancePagesTieBreak},
}

// testInstancesChangedSince makes writes of each kind and checks which
// instances the log says each changed, or that it cannot say.
func testInstancesChangedSince(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 1<<20, 1<<20, true)
	mustCreate(t, st, instance(t, "a", "u", "n", "1000"))
	mustCreate(t, st, instance(t, "b", "u", "n", "1001"))
	cases := []struct {
		name  string
		write func() error
		ids   []string // nil with ok false: not known
		ok    bool
	}{
		{"a create", func() error { return st.CreateInstance(ctx, instance(t, "c", "u", "n", "1002")) }, []string{"c"}, true},
		{"a status report", func() error {
			return st.SetObserved(ctx, "n", "a", store.Observation{Status: "running", ContainerID: "x"})
		}, []string{"a"}, true},
		{"an applied generation", func() error { return st.MarkApplied(ctx, "b", 1, "running", "y") }, []string{"b"}, true},
		{"a failed attempt", func() error { return st.RecordAttemptFailure(ctx, "a", "down", time.Now()) }, []string{"a"}, true},
		{"a rename", func() error { _, err := st.RenameInstance(ctx, "b", "bee"); return err }, []string{"b"}, true},
		{"a suspend", func() error { _, err := st.SetSuspended(ctx, "c", true); return err }, []string{"c"}, true},
		{"a delete", func() error { return st.DeleteInstance(ctx, "c") }, []string{"c"}, true},
		{"a removal done", func() error { return st.CompleteRemoval(ctx, "c") }, []string{}, true},
		{"a node going offline", func() error {
			return st.SetNodeHealth(ctx, "n", store.NodeOffline, "", 0, time.Now())
		}, nil, false},
		{"a new user", func() error {
			return st.CreateUser(ctx, store.User{ID: "v", Username: "v", Email: "v@example.com", PasswordHash: "x", CreatedAt: time.Now()})
		}, nil, false},
	}
	for _, c := range cases {
		v := st.Version()
		if err := c.write(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ids, now, ok := st.InstancesChangedSince(v)
		if ok != c.ok || (ok && !slices.Equal(ids, c.ids) && !(len(ids) == 0 && len(c.ids) == 0)) {
			t.Errorf("%s: changed %v (known %v), want %v (known %v)", c.name, ids, ok, c.ids, c.ok)
		}
		if now != st.Version() || (c.ok && len(c.ids) > 0 && now == v) {
			t.Errorf("%s: read at version %d, store at %d, before %d", c.name, now, st.Version(), v)
		}
	}
	// Several writes since: all of their instances; none since: none.
	v := st.Version()
	for _, id := range []string{"a", "b", "a"} {
		if err := st.MarkFailed(ctx, id, "no"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetDesired(ctx, id, "stopped"); err != nil {
			t.Fatal(err)
		}
	}
	if ids, _, ok := st.InstancesChangedSince(v); !ok || !slices.Contains(ids, "a") || !slices.Contains(ids, "b") {
		t.Errorf("after writes to a and b: %v (known %v)", ids, ok)
	}
	if ids, _, ok := st.InstancesChangedSince(st.Version()); !ok || len(ids) != 0 {
		t.Errorf("no write since: %v (known %v)", ids, ok)
	}
	if _, _, ok := st.InstancesChangedSince(0); ok {
		t.Error("since the store opened (migrations included): known, want not")
	}
}

// testInstancePagesTieBreak pages through instances of one
// millisecond, whose ids differ in case and beyond ASCII, one at a time:
// the pages follow the whole list's order, bytewise.
func testInstancePagesTieBreak(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 1<<20, 1<<20, true)
	at := time.Now().UTC().Truncate(time.Millisecond)
	for i, id := range []string{"b", "B", "a", "é", "f", "A", "aa"} {
		in := instance(t, id, "u", "n", strconv.Itoa(2000+i))
		in.CreatedAt = at
		mustCreate(t, st, in)
	}
	all, err := st.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, in := range all {
		want = append(want, in.ID)
	}
	if !slices.Equal(want, []string{"A", "B", "a", "aa", "b", "f", "é"}) {
		t.Errorf("the whole list: %v, want bytewise order", want)
	}
	var got []string
	p := store.Page{Limit: 2}
	for range 10 {
		page, err := st.InstancePage(ctx, store.InstanceFilter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range page {
			got = append(got, in.ID)
		}
		if len(page) < p.Limit {
			break
		}
		p.After = page[len(page)-1].Cursor()
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages of two: %v, want %v", got, want)
	}
}
