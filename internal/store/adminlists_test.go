package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// The store tests of the admin pages' lists, on each backend.

var adminListSuite = []struct {
	name string
	test func(*testing.T, database)
}{
	{"UserSummariesCountInstancesAndTwoFactor", testUserSummaries},
	{"NodeLoadsSumTheInstancesOfEachNode", testNodeLoads},
	{"APIKeyUsesTakeTheLastChangeOfEachKey", testAPIKeyUses},
	{"AuditPageFiltersByTarget", testAuditPageByTarget},
}

func TestAdminListsOnSQLite(t *testing.T) {
	for _, c := range adminListSuite {
		t.Run(c.name, func(t *testing.T) { c.test(t, storetest.NewSQLite(t)) })
	}
}

func TestAdminListsOnPostgres(t *testing.T) {
	base := storetest.SkipWithoutPostgres(t)
	for _, c := range adminListSuite {
		t.Run(c.name, func(t *testing.T) { c.test(t, storetest.NewPostgres(t, base)) })
	}
}

func testUserSummaries(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "alice")
	addUser(t, st, "bob")
	addNode(t, st, "n1", 8192, 8192, false)
	mustCreate(t, st, instance(t, "i1", "alice", "n1", "25565"))
	mustCreate(t, st, instance(t, "i2", "alice", "n1", "25566"))
	if err := st.StartTwoFactor(ctx, "bob", "SECRET", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.EnableTwoFactor(ctx, "bob", 1, nil); err != nil {
		t.Fatal(err)
	}
	list, err := st.UserSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("UserSummaries = %+v, want alice and bob", list)
	}
	alice, bob := list[0], list[1]
	if alice.ID != "alice" || alice.Instances != 2 || alice.TwoFactor || alice.Email != "alice@example.com" {
		t.Errorf("alice = %+v, want 2 instances and two-factor off", alice)
	}
	if bob.ID != "bob" || bob.Instances != 0 || !bob.TwoFactor {
		t.Errorf("bob = %+v, want no instances and two-factor on", bob)
	}
	for _, u := range list {
		if u.PasswordHash != "" {
			t.Errorf("%s's summary carries its password hash", u.ID)
		}
	}
}

func testNodeLoads(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "alice")
	addNode(t, st, "busy", 8192, 16384, true)
	addNode(t, st, "idle", 4096, 4096, false)
	mustCreate(t, st, instance(t, "i1", "alice", "busy", "25565"))
	second := instance(t, "i2", "alice", "busy", "25566")
	second.MemoryMiB, second.DiskMiB, second.CPU = 1024, 2048, 1.5
	mustCreate(t, st, second)
	list, err := st.NodeLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("NodeLoads = %+v, want busy and idle", list)
	}
	busy, idle := list[0], list[1]
	if busy.ID != "busy" || busy.Instances != 2 || busy.UsedMemoryMiB != 1536 || busy.UsedDiskMiB != 3072 || busy.UsedCPU != 2.5 {
		t.Errorf("busy = %+v, want 2 instances using 1536 MiB, 3072 MiB and 2.5 CPUs", busy)
	}
	if busy.RAMMiB != 8192 || busy.DiskMiB != 16384 || busy.Token != "" {
		t.Errorf("busy's record = %+v, want its totals and no token", busy.Node)
	}
	if idle.ID != "idle" || idle.Instances != 0 || idle.UsedMemoryMiB != 0 || idle.UsedDiskMiB != 0 || idle.UsedCPU != 0 {
		t.Errorf("idle = %+v, want nothing used", idle)
	}
}

func testAPIKeyUses(t *testing.T, db database) {
	st := db(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	used, _, err := st.IssueAPIKey(ctx, "used", now)
	if err != nil {
		t.Fatal(err)
	}
	unused, _, err := st.IssueAPIKey(ctx, "unused", now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []store.AuditEntry{
		{ActorKind: "key", CredentialID: used.ID, Action: "node.create", At: now.Add(time.Minute)},
		{ActorKind: "key", CredentialID: used.ID, Action: "node.delete", At: now.Add(3 * time.Minute)},
		{ActorKind: "key", CredentialID: used.ID, Action: "user.create", At: now.Add(2 * time.Minute)},
		// A session whose id happens to be a key's is not that key.
		{ActorKind: "session", CredentialID: unused.ID, Action: "user.update", At: now.Add(time.Hour)},
	} {
		if err := st.RecordAudit(ctx, e); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	list, err := st.APIKeyUses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != used.ID || list[1].ID != unused.ID {
		t.Fatalf("APIKeyUses = %+v, want used then unused", list)
	}
	if !list[0].LastChange.Equal(now.Add(3*time.Minute)) || list[0].Name != "used" || list[0].KeyHash != "" {
		t.Errorf("used = %+v, want its last change at %v and no hash", list[0], now.Add(3*time.Minute))
	}
	if !list[1].LastChange.IsZero() {
		t.Errorf("unused = %+v, want no last change", list[1])
	}
}

func testAuditPageByTarget(t *testing.T, db database) {
	st := db(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, target := range []string{"u1", "u2", "u1"} {
		e := store.AuditEntry{ActorKind: "key", CredentialID: "k1", Action: "user.update", Target: target,
			At: at.Add(time.Duration(i) * time.Minute)}
		if err := st.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.AuditPage(ctx, store.AuditFilter{Target: "u1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Time
	for _, e := range list {
		got = append(got, e.At)
	}
	if want := []time.Time{at.Add(2 * time.Minute), at}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("entries of u1 at %v, want %v", got, want)
	}
}
