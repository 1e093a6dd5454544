package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// scaleSuite checks what keeps a deploy's cost flat as the fleet grows:
// the nodes' allocation columns, the reconciler's indexes, and the
// idempotency records of creating requests.
var scaleSuite = []struct {
	name string
	test func(t *testing.T, db database)
}{
	{"ConcurrentDeletesFreeAnInstancesCapacityOnce", testConcurrentDeletesFreeOnce},
	{"MigrationInitialisesTheNodesAllocation", testMigrationInitialisesAllocation},
	{"ReconcilerQueriesReadTheirPartialIndexes", testReconcilerQueriesUseIndexes},
	{"CreateInstanceOnceRecordsTheKeyWithTheInstance", testCreateInstanceOnce},
	{"IdempotencyClaimIsPerCredentialAndPurged", testIdempotencyClaim},
	{"BulkCreateInstancesKeepsAllocationAndCapacity", testBulkCreateInstances},
	{"ObservedOnNodeAndCountsByState", testObservedOnNode},
}

// allocation reads node id's allocation columns.
func allocation(t *testing.T, st *store.Store, id string) (memory, disk int64) {
	t.Helper()
	err := store.QueryRowRaw(ctx, st, `SELECT allocated_memory_mib, allocated_disk_mib FROM nodes WHERE id = ?`, id).Scan(&memory, &disk)
	if err != nil {
		t.Fatal(err)
	}
	return memory, disk
}

func testConcurrentDeletesFreeOnce(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 4096, 1<<20, false)
	for i := range 4 {
		in := instance(t, fmt.Sprint("a", i), "u", "n", fmt.Sprint(20000+i))
		in.MemoryMiB = 1024
		mustCreate(t, st, in)
	}
	// Each instance deleted three times at once: a delete that freed its
	// memory more than once would leave room for a fifth instance.
	errs := race(12, func(i int) error { return st.DeleteInstance(ctx, fmt.Sprint("a", i%4)) })
	if ok := successes(t, "racing delete", errs, fault.NotExist, ""); ok != 4 {
		t.Errorf("%d racing deletes succeeded, want 4", ok)
	}
	if m, d := allocation(t, st, "n"); m != 0 || d != 0 {
		t.Errorf("allocation after deleting everything = %d MiB memory, %d MiB disk; want 0, 0", m, d)
	}
	var list []store.Instance
	for i := range 5 {
		in := instance(t, fmt.Sprint("b", i), "u", "n", fmt.Sprint(21000+i))
		in.MemoryMiB = 1024
		list = append(list, in)
	}
	if ok := successes(t, "create after deletes", raceCreates(st, list), fault.Invalid, "memory"); ok != 4 {
		t.Errorf("%d creates of 1 GiB fit on a 4 GiB node after the deletes, want 4", ok)
	}
	if m, d := allocation(t, st, "n"); m != 4096 || d != 4096 {
		t.Errorf("allocation = %d MiB memory, %d MiB disk; want 4096, 4096", m, d)
	}
}

func testMigrationInitialisesAllocation(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 1<<20, false)
	addNode(t, st, "empty", 8192, 1<<20, false)
	for i, mem := range []int64{512, 1000, 2048} {
		in := instance(t, fmt.Sprint("i", i), "u", "n", fmt.Sprint(20000+i))
		in.MemoryMiB, in.DiskMiB = mem, 10*mem
		mustCreate(t, st, in)
	}
	// Stand for a database from before the columns: zero them, then run
	// the migration's statements that fill them.
	if err := store.ExecRaw(ctx, st, `UPDATE nodes SET allocated_memory_mib = 0, allocated_disk_mib = 0`); err != nil {
		t.Fatal(err)
	}
	stmts, err := store.MigrationStatements("0014_scale.sql")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, stmt := range stmts {
		if strings.HasPrefix(stmt, "UPDATE nodes") {
			if err := store.ExecRaw(ctx, st, stmt); err != nil {
				t.Fatal(err)
			}
			ran++
		}
	}
	if ran != 1 {
		t.Fatalf("migration 0014 has %d UPDATE nodes statement(s), want 1", ran)
	}
	if m, d := allocation(t, st, "n"); m != 3560 || d != 35600 {
		t.Errorf("node n = %d MiB memory, %d MiB disk; want 3560, 35600", m, d)
	}
	if m, d := allocation(t, st, "empty"); m != 0 || d != 0 {
		t.Errorf("empty node = %d MiB memory, %d MiB disk; want 0, 0", m, d)
	}
}

// testReconcilerQueriesUseIndexes asks each database for its plan of the
// reconciler's queries. PostgreSQL is told to avoid sequential scans, as
// it would on a table this small whatever the indexes; the test is that
// the partial index can serve the query at all.
func testReconcilerQueriesUseIndexes(t *testing.T, db database) {
	st := db(t)
	want := map[string]string{"due": "instances_due", "overdue": "instances_installing", "removals": "removals_node_due"}
	for name, query := range store.ReconcilerQueries() {
		plan := explain(t, st, query)
		if !strings.Contains(plan, want[name]) {
			t.Errorf("plan of the %s query does not use %s:\n%s", name, want[name], plan)
		}
	}
}

// explain returns the database's plan for query, with (node, now) bound.
func explain(t *testing.T, st *store.Store, query string) string {
	t.Helper()
	tx, err := store.BeginRaw(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	prefix := "EXPLAIN QUERY PLAN "
	if st.Postgres() {
		prefix = "EXPLAIN "
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.QueryContext(ctx, store.Q(st, prefix+query), "n", time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func testCreateInstanceOnce(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 1<<20, 1<<20, false)
	key := store.IdempotencyKey{Credential: "key:k1", Key: "abc", Route: "POST /api/instances/deploy", BodyHash: "h1"}
	// Racing creates with one key: exactly one instance, the others told
	// the key is taken.
	errs := race(8, func(i int) error {
		return st.CreateInstanceOnce(ctx, instance(t, fmt.Sprint("i", i), "u", "n", fmt.Sprint(20000+i)), key)
	})
	won := ""
	for i, err := range errs {
		switch {
		case err == nil:
			if won != "" {
				t.Errorf("instances %s and i%d both created with one key", won, i)
			}
			won = fmt.Sprint("i", i)
		case !errors.Is(err, store.ErrIdempotencyKeyTaken):
			t.Errorf("create i%d: %v, want ErrIdempotencyKeyTaken", i, err)
		}
	}
	if n := countInstances(t, st); n != 1 {
		t.Errorf("instances = %d, want 1", n)
	}
	rec, err := st.IdempotencyRecordOf(ctx, key.Credential, key.Key)
	if err != nil || rec.ResourceID != won || rec.BodyHash != "h1" || rec.Route != key.Route {
		t.Errorf("record = %+v, %v; want resource %s", rec, err, won)
	}
	// A create that fails leaves no record behind: the key stays free.
	other := key
	other.Key = "def"
	big := instance(t, "big", "u", "n", "30000")
	big.MemoryMiB = 1 << 21
	expectFault(t, "too big", st.CreateInstanceOnce(ctx, big, other), fault.Invalid, "memory")
	if _, err := st.IdempotencyRecordOf(ctx, other.Credential, other.Key); !fault.Is(err, fault.NotExist) {
		t.Errorf("record of a failed create: %v, want NotExist", err)
	}
}

func testIdempotencyClaim(t *testing.T, db database) {
	st := db(t)
	key := store.IdempotencyKey{Credential: "key:k1", Key: "abc", Route: "POST /api/users", BodyHash: "h1"}
	if _, claimed, err := st.ClaimIdempotencyKey(ctx, key); err != nil || !claimed {
		t.Fatalf("first claim = %v, %v; want claimed", claimed, err)
	}
	again := key
	again.BodyHash = "h2"
	rec, claimed, err := st.ClaimIdempotencyKey(ctx, again)
	if err != nil || claimed || rec.BodyHash != "h1" || rec.Status != 0 {
		t.Errorf("second claim = %+v, %v, %v; want the first's pending record", rec, claimed, err)
	}
	// Another credential's same key is its own.
	theirs := key
	theirs.Credential = "token:t1"
	if _, claimed, err := st.ClaimIdempotencyKey(ctx, theirs); err != nil || !claimed {
		t.Errorf("another credential's claim = %v, %v; want claimed", claimed, err)
	}
	if err := st.SaveIdempotentAnswer(ctx, key, 201, []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	rec, err = st.IdempotencyRecordOf(ctx, key.Credential, key.Key)
	if err != nil || rec.Status != 201 || string(rec.Answer) != `{"id":"x"}` {
		t.Errorf("saved record = %+v, %v", rec, err)
	}
	// A released claim frees the key.
	if err := st.ReleaseIdempotencyKey(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := st.ClaimIdempotencyKey(ctx, theirs); err != nil || !claimed {
		t.Errorf("claim after release = %v, %v; want claimed", claimed, err)
	}
	if n, err := st.PurgeIdempotencyKeys(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("purge of an hour ago = %d, %v; want 0", n, err)
	}
	if n, err := st.PurgeIdempotencyKeys(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Errorf("purge of everything = %d, %v; want 2", n, err)
	}
	if _, err := st.IdempotencyRecordOf(ctx, key.Credential, key.Key); !fault.Is(err, fault.NotExist) {
		t.Errorf("record after purge: %v, want NotExist", err)
	}
}

func testBulkCreateInstances(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "a", 4096, 1<<20, false)
	addNode(t, st, "b", 4096, 1<<20, false)
	var list []store.Instance
	for i := range 6 {
		list = append(list, instance(t, fmt.Sprint("i", i), "u", []string{"a", "b"}[i%2], fmt.Sprint(20000+i)))
	}
	if err := st.BulkCreateInstances(ctx, list); err != nil {
		t.Fatal(err)
	}
	if n := countInstances(t, st); n != 6 {
		t.Errorf("instances = %d, want 6", n)
	}
	if m, d := allocation(t, st, "a"); m != 3*512 || d != 3*1024 {
		t.Errorf("node a = %d MiB memory, %d MiB disk; want 1536, 3072", m, d)
	}
	// A batch that overfills a node creates nothing.
	var more []store.Instance
	for i := range 6 {
		more = append(more, instance(t, fmt.Sprint("j", i), "u", "a", fmt.Sprint(21000+i)))
	}
	expectFault(t, "overfilled node", st.BulkCreateInstances(ctx, more), fault.Invalid, "nodeId")
	if n := countInstances(t, st); n != 6 {
		t.Errorf("instances after a refused batch = %d, want 6", n)
	}
	if m, _ := allocation(t, st, "a"); m != 3*512 {
		t.Errorf("node a after a refused batch = %d MiB memory, want 1536", m)
	}
}

func testObservedOnNode(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "a", 1<<20, 1<<20, false)
	addNode(t, st, "b", 1<<20, 1<<20, false)
	mustCreate(t, st, instance(t, "i1", "u", "a", "80"))
	mustCreate(t, st, instance(t, "i2", "u", "a", "81"))
	mustCreate(t, st, instance(t, "i3", "u", "b", "80"))
	o := store.Observation{Status: "running", ContainerID: "c1", ExitCode: 3, OOMKilled: true, Error: "crash loop"}
	if err := st.SetObserved(ctx, "a", "i1", o); err != nil {
		t.Fatal(err)
	}
	m, err := st.ObservedOnNode(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["i1"] != o || m["i2"] != (store.Observation{Status: "offline"}) {
		t.Errorf("observed on a = %+v; want i1 %+v and i2 offline", m, o)
	}
	if err := st.MarkApplied(ctx, "i2", 1, "running", "c2"); err != nil {
		t.Fatal(err)
	}
	counts, err := st.CountInstancesByState(ctx)
	if err != nil || counts[store.StateReady] != 1 || counts[store.StateInstalling] != 2 {
		t.Errorf("counts = %v, %v; want 1 READY, 2 INSTALLING", counts, err)
	}
}
