package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// sharedSetup stores users owner, friend and other, a node, and instance
// i1 of owner.
func sharedSetup(t *testing.T, st *store.Store) {
	t.Helper()
	for _, u := range []string{"owner", "friend", "other"} {
		addUser(t, st, u)
	}
	addNode(t, st, "n1", 8192, 8192, true)
	mustCreate(t, st, instance(t, "i1", "owner", "n1", "25565"))
}

func grant(t *testing.T, st *store.Store, instanceID, userID string, perms ...access.Permission) {
	t.Helper()
	if err := st.AddSubuser(ctx, store.Subuser{InstanceID: instanceID, UserID: userID, Permissions: perms, CreatedAt: time.Now()}); err != nil {
		t.Fatalf("add subuser %s to %s: %v", userID, instanceID, err)
	}
}

func testSubuserGrants(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	// Given in any order, a grant reads back in access.All's.
	grant(t, st, "i1", "friend", access.Power, access.ConsoleRead)
	err := st.AddSubuser(ctx, store.Subuser{InstanceID: "i1", UserID: "friend", Permissions: []access.Permission{access.Power}, CreatedAt: time.Now()})
	expectFault(t, "add a subuser twice", err, fault.Exist, "user")

	list, err := st.Subusers(ctx, "i1")
	if err != nil || len(list) != 1 {
		t.Fatalf("subusers = %+v, %v; want friend alone", list, err)
	}
	if s := list[0]; s.UserID != "friend" || s.Username != "friend" || s.Email != "friend@example.com" ||
		!slices.Equal(s.Permissions, []access.Permission{access.ConsoleRead, access.Power}) {
		t.Errorf("subuser = %+v", s)
	}
	sh, err := st.InstanceForUser(ctx, "i1", "friend")
	if err != nil || !slices.Equal(sh.Granted, []access.Permission{access.ConsoleRead, access.Power}) || sh.ID != "i1" {
		t.Errorf("InstanceForUser(friend) = %+v, %v", sh.Granted, err)
	}
	if sh, err := st.InstanceForUser(ctx, "i1", "other"); err != nil || sh.Granted != nil || sh.UserID != "owner" {
		t.Errorf("InstanceForUser(other) = grant %v owner %q, %v; want no grant", sh.Granted, sh.UserID, err)
	}
	_, err = st.InstanceForUser(ctx, "nope", "friend")
	expectFault(t, "InstanceForUser of a missing instance", err, fault.NotExist, "")

	if err := st.SetSubuserPermissions(ctx, "i1", "friend", []access.Permission{access.FilesRead}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if sh, _ := st.InstanceForUser(ctx, "i1", "friend"); !slices.Equal(sh.Granted, []access.Permission{access.FilesRead}) {
		t.Errorf("after the change the grant is %v, want [files.read]", sh.Granted)
	}
	// An empty grant is still a place on the instance, not none.
	if err := st.SetSubuserPermissions(ctx, "i1", "friend", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if sh, _ := st.InstanceForUser(ctx, "i1", "friend"); sh.Granted == nil || len(sh.Granted) != 0 {
		t.Errorf("an emptied grant reads as %#v, want an empty, non-nil list", sh.Granted)
	}
	expectFault(t, "change a non-subuser", st.SetSubuserPermissions(ctx, "i1", "other", nil, time.Now()), fault.NotExist, "")
	if err := st.RemoveSubuser(ctx, "i1", "friend"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "remove twice", st.RemoveSubuser(ctx, "i1", "friend"), fault.NotExist, "")
	if list, err := st.Subusers(ctx, "i1"); err != nil || len(list) != 0 {
		t.Errorf("subusers after removal = %+v, %v", list, err)
	}
}

func testSubuserMissingRefs(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	for _, s := range []store.Subuser{{InstanceID: "nope", UserID: "friend"}, {InstanceID: "i1", UserID: "nope"}} {
		err := st.AddSubuser(ctx, store.Subuser{InstanceID: s.InstanceID, UserID: s.UserID, CreatedAt: time.Now()})
		expectFault(t, fmt.Sprintf("add %s to %s", s.UserID, s.InstanceID), err, fault.NotExist, "")
	}
}

func testSubusersCascade(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	mustCreate(t, st, instance(t, "i2", "owner", "n1", "25566"))
	grant(t, st, "i1", "friend", access.Power)
	grant(t, st, "i2", "friend", access.Power)
	grant(t, st, "i2", "other", access.Power)
	if err := st.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if err := store.ExecRaw(ctx, st, `DELETE FROM users WHERE id = ?`, "other"); err != nil {
		t.Fatalf("delete a subuser's user: %v", err)
	}
	list, err := st.InstancesOfUser(ctx, "friend")
	if err != nil || len(list) != 1 || list[0].ID != "i2" {
		t.Errorf("friend's instances after i1's delete = %+v, %v; want i2 alone", list, err)
	}
	subs, err := st.Subusers(ctx, "i2")
	if err != nil || len(subs) != 1 || subs[0].UserID != "friend" {
		t.Errorf("i2's subusers after other's delete = %+v, %v; want friend alone", subs, err)
	}
}

// testDeleteUserOfASubuser: DeleteUser refuses only while the user owns
// instances; a subuser goes with its grants, and what it did stays in the
// activity log.
func testDeleteUserOfASubuser(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	grant(t, st, "i1", "friend", access.Power)
	if err := st.RecordAudit(ctx, store.AuditEntry{ActorKind: "session", CredentialID: "s1", UserID: "friend",
		Action: "instance.power.stop", InstanceID: "i1", Target: "i1", IP: "192.0.2.1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteUser(ctx, "friend"); err != nil {
		t.Fatalf("delete a subuser: %v", err)
	}
	if subs, err := st.Subusers(ctx, "i1"); err != nil || len(subs) != 0 {
		t.Errorf("i1's subusers after friend's delete = %+v, %v; want none", subs, err)
	}
	page, err := st.AuditPage(ctx, store.AuditFilter{InstanceID: "i1", Limit: 10})
	if err != nil || len(page) != 1 || page[0].UserID != "friend" || page[0].Username != "" {
		t.Errorf("i1's activity after friend's delete = %+v, %v; want the entry, with no username", page, err)
	}
	expectFault(t, "owner of an instance with a subuser", st.DeleteUser(ctx, "owner"), fault.Conflict, "")
	grant(t, st, "i1", "other", access.FilesRead)
	if err := st.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteUser(ctx, "owner"); err != nil {
		t.Errorf("delete the owner once its instance went: %v", err)
	}
}

func testInstancesOfUser(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	mustCreate(t, st, instance(t, "i2", "friend", "n1", "25566"))
	mustCreate(t, st, instance(t, "i3", "other", "n1", "25567"))
	grant(t, st, "i1", "friend", access.FilesRead)
	list, err := st.InstancesOfUser(ctx, "friend")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]access.Permission{}
	for _, sh := range list {
		got[sh.ID] = sh.Granted
	}
	if len(got) != 2 || !slices.Equal(got["i1"], []access.Permission{access.FilesRead}) || got["i2"] != nil {
		t.Errorf("friend's instances = %v; want i1 shared with [files.read] and i2 owned (no grant)", got)
	}
	if _, ok := got["i3"]; ok {
		t.Error("friend sees other's instance i3")
	}
	if list, err := st.InstancesOfUser(ctx, "nobody"); err != nil || len(list) != 0 || list == nil {
		t.Errorf("a user of nothing has %#v, %v; want an empty list", list, err)
	}
}

func testAuditPage(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "alice")
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	entries := []store.AuditEntry{
		{ActorKind: "key", CredentialID: "k1", Action: "node.create", Target: "n1"},
		{ActorKind: "session", CredentialID: "s1", UserID: "alice", Action: "instance.power.start", InstanceID: "i1", Target: "i1"},
		{ActorKind: "token", CredentialID: "t1", UserID: "alice", Action: "instance.power.stop", InstanceID: "i1", Target: "i1"},
		{ActorKind: "session", CredentialID: "s1", UserID: "alice", Action: "instance.files.write", InstanceID: "i2", Target: "i2"},
		{ActorKind: "key", CredentialID: "k1", Action: "instance.powerful", InstanceID: "i1", Target: "i1",
			Detail: "d", IP: "192.0.2.7"},
	}
	for i, e := range entries {
		e.At = base.Add(time.Duration(i) * time.Minute)
		if err := st.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	actions := func(f store.AuditFilter) []string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 100
		}
		list, err := st.AuditPage(ctx, f)
		if err != nil {
			t.Fatalf("audit page %+v: %v", f, err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.Action)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"all, newest first", store.AuditFilter{}, []string{"instance.powerful", "instance.files.write", "instance.power.stop", "instance.power.start", "node.create"}},
		{"one instance", store.AuditFilter{InstanceID: "i1"}, []string{"instance.powerful", "instance.power.stop", "instance.power.start"}},
		{"a user", store.AuditFilter{Actor: "alice"}, []string{"instance.files.write", "instance.power.stop", "instance.power.start"}},
		{"a credential", store.AuditFilter{Actor: "k1"}, []string{"instance.powerful", "node.create"}},
		{"an action and its kin, not its lookalike", store.AuditFilter{Action: "instance.power"}, []string{"instance.power.stop", "instance.power.start"}},
		{"an exact action", store.AuditFilter{Action: "node.create"}, []string{"node.create"}},
		{"since, included", store.AuditFilter{Since: base.Add(3 * time.Minute)}, []string{"instance.powerful", "instance.files.write"}},
		{"until, excluded", store.AuditFilter{Until: base.Add(1 * time.Minute)}, []string{"node.create"}},
		{"filters combine", store.AuditFilter{InstanceID: "i1", Actor: "alice", Action: "instance.power.start"}, []string{"instance.power.start"}},
	} {
		if got := actions(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// Paging walks every entry once, with entries of one millisecond too.
	for range 3 {
		if err := st.RecordAudit(ctx, store.AuditEntry{ActorKind: "key", CredentialID: "k2", Action: "same.ms", At: base}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	f := store.AuditFilter{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := st.AuditPage(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			seen = append(seen, e.ID)
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.AfterAt, f.AfterID = last.At, last.ID
	}
	if len(seen) != 8 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 8 {
		t.Errorf("paging saw %d entries (%v), want the 8 once each", len(seen), seen)
	}

	// An entry reads back whole, its user's name joined.
	list, err := st.AuditPage(ctx, store.AuditFilter{Actor: "alice", Limit: 1})
	if err != nil || len(list) != 1 {
		t.Fatalf("alice's newest = %v, %v", list, err)
	}
	if e := list[0]; e.ActorKind != "session" || e.CredentialID != "s1" || e.Username != "alice" || e.InstanceID != "i2" ||
		e.Target != "i2" || !e.At.Equal(base.Add(3*time.Minute)) || e.ID == "" {
		t.Errorf("entry = %+v", e)
	}
	list, err = st.AuditPage(ctx, store.AuditFilter{Action: "instance.powerful", Limit: 1})
	if err != nil || len(list) != 1 || list[0].Detail != "d" || list[0].IP != "192.0.2.7" || list[0].Username != "" {
		t.Errorf("key's entry = %+v, %v", list, err)
	}
}

func testAuditActionLiteral(t *testing.T, db database) {
	st := db(t)
	for _, a := range []string{"a_b", "axb", "a%.c", "aZZ.c"} {
		if err := st.RecordAudit(ctx, store.AuditEntry{ActorKind: "key", Action: a, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ filter, want string }{{"a_b", "a_b"}, {"a%", "a%.c"}} {
		list, err := st.AuditPage(ctx, store.AuditFilter{Action: tc.filter, Limit: 10})
		if err != nil || len(list) != 1 || list[0].Action != tc.want {
			t.Errorf("action %q selects %+v, %v; want %q alone", tc.filter, list, err, tc.want)
		}
	}
}
