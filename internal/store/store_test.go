package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// storeSuite is every store test; each backend runs all of them.
var storeSuite = []struct {
	name string
	test func(t *testing.T, db database)
}{
	{"CreateUserRejectsATakenUsernameEmailOrIdIgnoringCase", testCreateUserRejectsTaken},
	{"UserLookupsIgnoreCase", testUserLookupsIgnoreCase},
	{"ConcurrentCreateUserOfOneNameCreatesExactlyOne", testConcurrentCreateUser},
	{"CreateInstanceAllocatesHostPortsPerNode", testHostPortsPerNode},
	{"CreateInstanceRejectsAnUnknownUserOrNode", testCreateInstanceUnknownRefs},
	{"CreateInstanceRespectsNodeCapacity", testNodeCapacity},
	{"CreateInstanceRejectsATakenId", testCreateInstanceTakenID},
	{"InstanceKeepsEveryField", testInstanceRoundTrip},
	{"ConcurrentCreateInstanceNeverSharesAHostPort", testConcurrentSamePort},
	{"ConcurrentCreateInstanceOfDistinctPortsAllSucceed", testConcurrentDistinctPorts},
	{"ConcurrentCreateInstanceNeverOverfillsANode", testConcurrentCapacity},
	{"DeleteInstanceFreesItsPortsAndQueuesARemoval", testDeleteInstance},
	{"DeleteNodeRefusesWhileInstancesOrRemovalsRemain", testDeleteNodeConflicts},
	{"DeleteNodeNeverConfiguredDropsItsRemovals", testDeleteUnconfiguredNode},
	{"DeleteNodeRacingDeploysOrphansNothing", testDeleteNodeRacingDeploys},
	{"SetSuspendedIsIdempotent", testSetSuspended},
	{"InstallBecomesReadyOnceOrFails", testInstallLifecycle},
	{"SetObservedIgnoresReportsFromAnotherNode", testSetObservedByNode},
	{"ConfigureKeyWorksOnceAndExpires", testConfigureKey},
	{"APIKeyByHashFindsOnlyLiveKeys", testAPIKeys},
	{"TemplatesAreFoundByIdOrNameIgnoringCase", testTemplates},
	{"AuditLogListsNewestFirst", testAuditLog},
	{"MigrationsAreIdempotentOnReopen", testReopen},
	{"ListsSortTextByBytes", testListsSortTextByBytes},
	{"DeployOfADeletedTemplateIsInvalid", testDeployOfADeletedTemplate},
	{"DeleteTemplateRacingADeployIsAConflict", testDeleteTemplateRacingADeploy},
	{"CorruptRowIsAnInternalError", testCorruptRowIsAnInternalError},
	{"DueNodeRemovalsListsOneNode", testDueNodeRemovalsListsOneNode},
	{"ConcurrentEnsureLocalNodeMakesOne", testConcurrentEnsureLocalNodeMakesOne},
	{"DeployAboveTheNodesCoresIsInvalid", testDeployAboveTheNodesCoresIsInvalid},
	{"AddMissingTemplatesAddsEachBuiltinOnce", testAddMissingTemplatesAddsEachBuiltinOnce},
	{"ReplaceTemplateUpdatesByUUIDOrName", testReplaceTemplateUpdatesByUUIDOrName},
	// Admin management of users and API keys (admin_test.go).
	{"UpdateUserChangesOnlyWhatIsGiven", testUpdateUserChangesOnlyWhatIsGiven},
	{"UpdateUserRejectsATakenNameOrUnknownUser", testUpdateUserRejectsATakenNameOrUnknownUser},
	{"DeleteUserRefusesWhileInstancesRemain", testDeleteUserRefusesWhileInstancesRemain},
	{"APIKeysListAndRevoke", testAPIKeysListAndRevoke},
	{"ConcurrentRevokesLeaveOneKey", testConcurrentRevokesLeaveOneKey},

	// Subusers and activity (subusers_test.go).
	{"SubuserGrantsAreAddedChangedAndRemovedOnce", testSubuserGrants},
	{"SubuserOfAMissingInstanceOrUserIsNotFound", testSubuserMissingRefs},
	{"SubusersGoWithTheirInstanceOrUser", testSubusersCascade},
	{"DeleteUserOfASubuserDropsItsGrantsKeepsItsActivity", testDeleteUserOfASubuser},
	{"InstancesOfUserListsOwnedAndSharedWithTheGrant", testInstancesOfUser},
	{"AuditPageFiltersAndPagesNewestFirst", testAuditPage},
	{"AuditActionFilterTakesWildcardsLiterally", testAuditActionLiteral},
}

var ctx = context.Background()

func addUser(t *testing.T, st *store.Store, id string) {
	t.Helper()
	if err := st.CreateUser(ctx, store.User{ID: id, Username: id, Email: id + "@example.com", PasswordHash: "$argon2id$x",
		CreatedAt: time.Now()}); err != nil {
		t.Fatalf("create user %s: %v", id, err)
	}
}

// addNode stores a node of ram and disk MiB; configured nodes have a token.
func addNode(t *testing.T, st *store.Store, id string, ram, disk int64, configured bool) {
	t.Helper()
	key := secret.NewToken("berth_cfg_")
	if err := st.CreateNode(ctx, store.Node{ID: id, Name: id, RAMMiB: ram, DiskMiB: disk, Address: "10.0.0.1", Port: 8443,
		Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: time.Now()}, secret.Hash(key), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("create node %s: %v", id, err)
	}
	if configured {
		if _, err := st.ConfigureNode(ctx, secret.Hash(key), secret.NewToken("berth_node_"), "", time.Now()); err != nil {
			t.Fatalf("configure node %s: %v", id, err)
		}
	}
}

// instance is a valid new instance of 512 MiB and 1 GiB disk.
func instance(t *testing.T, id, user, node, portSpec string) store.Instance {
	t.Helper()
	bs, err := ports.Parse(portSpec)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Instance{ID: id, Name: id, UserID: user, NodeID: node, Image: "nginx", MemoryMiB: 512, CPU: 1, DiskMiB: 1024,
		Ports: bs, Primary: bs[0], PrimaryRaw: fmt.Sprint(bs[0].Host), Variables: map[string]string{},
		InternalState: store.StateInstalling, Status: "offline", Desired: "running", Generation: 1,
		InstallDeadline: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
}

func mustCreate(t *testing.T, st *store.Store, in store.Instance) {
	t.Helper()
	if err := st.CreateInstance(ctx, in); err != nil {
		t.Fatalf("create instance %s: %v", in.ID, err)
	}
}

// expectFault fails unless err is a fault of kind k on field ("" for any).
func expectFault(t *testing.T, what string, err error, k fault.Kind, field string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != k || (field != "" && fe.Field != field) {
		t.Errorf("%s: error %v, want kind %d on field %q", what, err, k, field)
	}
}

func countInstances(t *testing.T, st *store.Store) int {
	t.Helper()
	list, err := st.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func testCreateUserRejectsTaken(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "alice")
	for _, c := range []struct {
		field string
		u     store.User
	}{
		{"username", store.User{ID: "u2", Username: "ALICE", Email: "other@example.com"}},
		{"email", store.User{ID: "u3", Username: "other", Email: "Alice@Example.COM"}},
		{"userId", store.User{ID: "alice", Username: "other", Email: "other@example.com"}},
	} {
		expectFault(t, "duplicate "+c.field, st.CreateUser(ctx, c.u), fault.Exist, c.field)
	}
	users, err := st.ListUsers(ctx)
	if err != nil || len(users) != 1 {
		t.Errorf("users = %v, %v; want only alice", users, err)
	}
}

func testUserLookupsIgnoreCase(t *testing.T, db database) {
	st := db(t)
	if err := st.CreateUser(ctx, store.User{ID: "b1", Username: "Bob", Email: "Bob@Example.com", PasswordHash: "h", Admin: true,
		CreatedAt: time.UnixMilli(1700000000123)}); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() (store.User, error){
		func() (store.User, error) { return st.UserByUsername(ctx, "bOB") },
		func() (store.User, error) { return st.UserByEmail(ctx, "bob@example.COM") },
		func() (store.User, error) { return st.UserByID(ctx, "b1") },
	} {
		u, err := get()
		if err != nil || u.ID != "b1" || u.Username != "Bob" || u.Email != "Bob@Example.com" || !u.Admin || u.PasswordHash != "h" ||
			!u.CreatedAt.Equal(time.UnixMilli(1700000000123)) {
			t.Errorf("lookup = %+v, %v", u, err)
		}
	}
	_, err := st.UserByID(ctx, "B1")
	expectFault(t, "user ids are exact", err, fault.NotExist, "")
	_, err = st.UserByUsername(ctx, "nobody")
	expectFault(t, "unknown username", err, fault.NotExist, "")
}

func testConcurrentCreateUser(t *testing.T, db database) {
	st := db(t)
	errs := race(20, func(i int) error {
		return st.CreateUser(ctx, store.User{ID: fmt.Sprint("u", i), Username: "Racer", Email: fmt.Sprint("r", i, "@example.com"),
			PasswordHash: "h", CreatedAt: time.Now()})
	})
	ok := successes(t, "racing create", errs, fault.Exist, "username")
	if ok != 1 {
		t.Errorf("%d of 20 racing creates of one username succeeded, want 1", ok)
	}
}

func testHostPortsPerNode(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n1", 8192, 102400, false)
	addNode(t, st, "n2", 8192, 102400, false)
	mustCreate(t, st, instance(t, "a", "u", "n1", "25565,25575:25576"))
	for _, spec := range []string{"25565", "1:25576", "30000,25565"} {
		expectFault(t, "taken port "+spec, st.CreateInstance(ctx, instance(t, "b", "u", "n1", spec)), fault.Invalid, "ports")
	}
	// Nothing of the rejected creates remains: 30000 is free.
	mustCreate(t, st, instance(t, "c", "u", "n1", "30000"))
	mustCreate(t, st, instance(t, "d", "u", "n2", "25565,25575:25576"))
	if n := countInstances(t, st); n != 3 {
		t.Errorf("instances = %d, want 3", n)
	}
}

func testCreateInstanceUnknownRefs(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, false)
	expectFault(t, "unknown user", st.CreateInstance(ctx, instance(t, "a", "nobody", "n", "80")), fault.Invalid, "user")
	expectFault(t, "unknown node", st.CreateInstance(ctx, instance(t, "a", "u", "nowhere", "80")), fault.Invalid, "nodeId")
	if n := countInstances(t, st); n != 0 {
		t.Errorf("instances = %d, want 0", n)
	}
}

func testNodeCapacity(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 4096, 4096, false)
	big := instance(t, "a", "u", "n", "80")
	big.MemoryMiB = 4097
	expectFault(t, "memory", st.CreateInstance(ctx, big), fault.Invalid, "memory")
	big.MemoryMiB, big.DiskMiB = 1024, 4097
	expectFault(t, "disk", st.CreateInstance(ctx, big), fault.Invalid, "disk")
	a := instance(t, "a", "u", "n", "80")
	a.MemoryMiB, a.DiskMiB = 3072, 3072
	mustCreate(t, st, a)
	b := instance(t, "b", "u", "n", "81")
	b.MemoryMiB, b.DiskMiB = 1025, 1
	expectFault(t, "memory after a", st.CreateInstance(ctx, b), fault.Invalid, "memory")
	b.MemoryMiB, b.DiskMiB = 1024, 1024
	mustCreate(t, st, b) // exactly full
	c := instance(t, "c", "u", "n", "82")
	c.MemoryMiB, c.DiskMiB = 1, 0
	expectFault(t, "a full node", st.CreateInstance(ctx, c), fault.Invalid, "memory")
	// Deleting frees the room.
	if err := st.DeleteInstance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, c)
}

func testCreateInstanceTakenID(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, false)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	expectFault(t, "taken id", st.CreateInstance(ctx, instance(t, "a", "u", "n", "81")), fault.Exist, "")
	// The rejected create did not keep port 81.
	mustCreate(t, st, instance(t, "b", "u", "n", "81"))
}

func testInstanceRoundTrip(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, false)
	if err := st.CreateTemplate(ctx, store.Template{ID: "tpl", Name: "Paper", Doc: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	want := instance(t, "a", "u", "n", "25565:25565,8080:25575")
	want.Primary, want.PrimaryRaw = want.Ports[1], "25575"
	want.TemplateID, want.Image, want.CPU = "tpl", "ghcr.io/x/y:1", 1.25
	want.Variables = map[string]string{"EULA": "true", "EMPTY": "", "UNICODE": "é✓"}
	mustCreate(t, st, want)
	got, err := st.InstanceByID(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	want.Node = store.NodeSummary{ID: "n", Name: "n", Address: "10.0.0.1", Port: 8443, Status: store.NodeUnconfigured}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored instance differs:\n got %+v\nwant %+v", got, want)
	}
	for _, list := range [][]store.Instance{listed(t)(st.ListInstances(ctx)), listed(t)(st.InstancesByUser(ctx, "u"))} {
		if len(list) != 1 || !reflect.DeepEqual(list[0], want) {
			t.Errorf("listed instances = %+v, want [%+v]", list, want)
		}
	}
	if list := listed(t)(st.InstancesByUser(ctx, "nobody")); list == nil || len(list) != 0 {
		t.Errorf("instances of nobody = %#v, want empty, not nil", list)
	}
	_, err = st.InstanceByID(ctx, "nope")
	expectFault(t, "unknown instance", err, fault.NotExist, "")
}

// listed fails the test on a listing's error: listed(t)(st.ListInstances(ctx)).
func listed(t *testing.T) func([]store.Instance, error) []store.Instance {
	t.Helper()
	return func(list []store.Instance, err error) []store.Instance {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
}

// race runs fn(0) to fn(n-1) at once, released together, and returns
// their errors in order.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// successes counts the nil errors of errs; every other must be a fault of
// kind k on field.
func successes(t *testing.T, what string, errs []error, k fault.Kind, field string) int {
	t.Helper()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			expectFault(t, what, err, k, field)
		}
	}
	return ok
}

// raceCreates creates the instances at once and returns each one's error.
func raceCreates(st *store.Store, list []store.Instance) []error {
	return race(len(list), func(i int) error { return st.CreateInstance(ctx, list[i]) })
}

func testConcurrentSamePort(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 1<<20, 1<<20, false)
	var list []store.Instance
	for i := range 20 {
		list = append(list, instance(t, fmt.Sprint("i", i), "u", "n", fmt.Sprint(40000+i, ",25565")))
	}
	ok := successes(t, "racing create", raceCreates(st, list), fault.Invalid, "ports")
	if ok != 1 || countInstances(t, st) != 1 {
		t.Errorf("%d of 20 racing creates of host port 25565 succeeded (%d stored), want 1", ok, countInstances(t, st))
	}
}

func testConcurrentDistinctPorts(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 1<<20, 1<<20, false)
	var list []store.Instance
	for i := range 30 {
		list = append(list, instance(t, fmt.Sprint("i", i), "u", "n", fmt.Sprint(20000+2*i, ",", 20001+2*i)))
	}
	for i, err := range raceCreates(st, list) {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	seen := map[int]string{}
	for _, in := range listed(t)(st.ListInstances(ctx)) {
		for _, b := range in.Ports {
			if prev, dup := seen[b.Host]; dup {
				t.Errorf("host port %d is shared by %s and %s", b.Host, prev, in.ID)
			}
			seen[b.Host] = in.ID
		}
	}
	if len(seen) != 60 {
		t.Errorf("allocated host ports = %d, want 60", len(seen))
	}
}

func testConcurrentCapacity(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 4096, 1<<20, false)
	var list []store.Instance
	for i := range 20 {
		in := instance(t, fmt.Sprint("i", i), "u", "n", fmt.Sprint(20000+i))
		in.MemoryMiB = 1024
		list = append(list, in)
	}
	ok := successes(t, "racing create", raceCreates(st, list), fault.Invalid, "memory")
	if ok != 4 {
		t.Errorf("%d racing creates of 1 GiB fit on a 4 GiB node, want 4", ok)
	}
}

func testDeleteInstance(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	mustCreate(t, st, instance(t, "a", "u", "n", "80,81"))
	mustCreate(t, st, instance(t, "b", "u", "n", "82"))
	if err := st.DeleteInstance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "delete twice", st.DeleteInstance(ctx, "a"), fault.NotExist, "")
	expectFault(t, "delete unknown", st.DeleteInstance(ctx, "nope"), fault.NotExist, "")
	if list := listed(t)(st.ListInstances(ctx)); len(list) != 1 || list[0].ID != "b" {
		t.Errorf("instances after delete = %v, want only b", list)
	}
	mustCreate(t, st, instance(t, "c", "u", "n", "80,81"))

	removals, err := st.DueRemovals(ctx, time.Now())
	if err != nil || len(removals) != 1 || removals[0].InstanceID != "a" || removals[0].NodeID != "n" {
		t.Fatalf("removals = %+v, %v; want a on n", removals, err)
	}
	if err := st.RecordRemovalFailure(ctx, "a", "node down", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueRemovals(ctx, time.Now()); len(due) != 0 {
		t.Errorf("a removal backing off is due: %+v", due)
	}
	later, _ := st.DueRemovals(ctx, time.Now().Add(2*time.Hour))
	if len(later) != 1 || later[0].Attempts != 1 || later[0].LastError != "node down" {
		t.Errorf("removal after a failure = %+v", later)
	}
	if err := st.CompleteRemoval(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueRemovals(ctx, time.Now().Add(2*time.Hour)); len(due) != 0 {
		t.Errorf("a completed removal is still listed: %+v", due)
	}
}

func testDeleteNodeConflicts(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	expectFault(t, "node with an instance", st.DeleteNode(ctx, "n"), fault.Conflict, "")
	if err := st.DeleteInstance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "node owing a removal", st.DeleteNode(ctx, "n"), fault.Conflict, "")
	if err := st.CompleteRemoval(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteNode(ctx, "n"); err != nil {
		t.Fatalf("delete an empty node: %v", err)
	}
	_, err := st.NodeByID(ctx, "n")
	expectFault(t, "deleted node", err, fault.NotExist, "")
	expectFault(t, "delete twice", st.DeleteNode(ctx, "n"), fault.NotExist, "")
}

func testDeleteUnconfiguredNode(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, false)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	if err := st.DeleteInstance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteNode(ctx, "n"); err != nil {
		t.Fatalf("delete a never-configured node: %v", err)
	}
	if due, _ := st.DueRemovals(ctx, time.Now()); len(due) != 0 {
		t.Errorf("removals of a deleted node remain: %+v", due)
	}
}

func testDeleteNodeRacingDeploys(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 1<<20, 1<<20, true)
	var list []store.Instance
	for i := range 10 {
		list = append(list, instance(t, fmt.Sprint("i", i), "u", "n", fmt.Sprint(20000+i)))
	}
	var deleteErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		deleteErr = st.DeleteNode(ctx, "n")
	}()
	errs := raceCreates(st, list)
	wg.Wait()
	created := successes(t, "deploy racing a node delete", errs, fault.Invalid, "nodeId")
	switch {
	case deleteErr == nil && created == 0:
	case deleteErr != nil && created > 0:
		expectFault(t, "node delete racing deploys", deleteErr, fault.Conflict, "")
	default:
		t.Errorf("node delete: %v with %d instances created", deleteErr, created)
	}
	if n := countInstances(t, st); n != created {
		t.Errorf("instances = %d, want %d", n, created)
	}
}

func testSetSuspended(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, false)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	for i, c := range []struct {
		suspend bool
		gen     int64
	}{{true, 2}, {true, 2}, {false, 3}, {false, 3}, {true, 4}} {
		in, err := st.SetSuspended(ctx, "a", c.suspend)
		if err != nil || in.Suspended != c.suspend || in.Generation != c.gen {
			t.Errorf("step %d: SetSuspended(%v) = suspended %v generation %d, %v; want generation %d", i, c.suspend, in.Suspended, in.Generation, err, c.gen)
		}
	}
	_, err := st.SetSuspended(ctx, "nope", true)
	expectFault(t, "unknown instance", err, fault.NotExist, "")
}

func testInstallLifecycle(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	mustCreate(t, st, instance(t, "b", "u", "n", "81"))
	due := listed(t)(st.DueInstances(ctx, "n", time.Now()))
	if len(due) != 2 {
		t.Fatalf("due = %d, want both new instances", len(due))
	}
	if err := st.MarkApplied(ctx, "a", 1, "running", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, "a", "too late"); err != nil {
		t.Fatal(err)
	}
	a, _ := st.InstanceByID(ctx, "a")
	if a.InternalState != store.StateReady || a.Status != "running" || a.ContainerID != "c1" || a.AppliedGeneration != 1 {
		t.Errorf("after MarkApplied: %+v; a READY instance must not turn FAILED", a)
	}
	if err := st.MarkFailed(ctx, "b", "node unreachable"); err != nil {
		t.Fatal(err)
	}
	b, _ := st.InstanceByID(ctx, "b")
	if b.InternalState != store.StateFailed || b.LastError != "node unreachable" {
		t.Errorf("after MarkFailed: %+v", b)
	}
	if due := listed(t)(st.DueInstances(ctx, "n", time.Now())); len(due) != 0 {
		t.Errorf("due after apply and fail = %v, want none", due)
	}
	if _, err := st.SetDesired(ctx, "a", "stopped"); err != nil {
		t.Fatal(err)
	}
	if due := listed(t)(st.DueInstances(ctx, "n", time.Now())); len(due) != 1 || due[0].ID != "a" || due[0].Generation != 2 {
		t.Errorf("due after a change of desire = %v, want a at generation 2", due)
	}
}

func testConfigureKey(t *testing.T, db database) {
	st := db(t)
	key := "berth_cfg_test"
	if err := st.CreateNode(ctx, store.Node{ID: "n", Name: "n", RAMMiB: 1, DiskMiB: 1, Address: "h", Port: 1, Scheme: "http",
		Status: store.NodeUnconfigured, CreatedAt: time.Now()}, secret.Hash(key), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := st.ConfigureNode(ctx, secret.Hash(key), "tok1", "", time.Now().Add(2*time.Minute))
	expectFault(t, "expired key", err, fault.Permission, "")
	n, err := st.ConfigureNode(ctx, secret.Hash(key), "tok1", secret.Hash("panel1"), time.Now())
	if err != nil || n.ID != "n" || n.Token != "tok1" {
		t.Fatalf("configure = %+v, %v", n, err)
	}
	if n, err := st.NodeByPanelToken(ctx, secret.Hash("panel1")); err != nil || n.ID != "n" {
		t.Errorf("node by its panel token = %+v, %v", n, err)
	}
	_, err = st.NodeByPanelToken(ctx, secret.Hash("another"))
	expectFault(t, "unknown panel token", err, fault.NotExist, "")
	_, err = st.NodeByPanelToken(ctx, "")
	expectFault(t, "empty panel token", err, fault.NotExist, "")
	_, err = st.ConfigureNode(ctx, secret.Hash(key), "tok2", "", time.Now())
	expectFault(t, "used key", err, fault.Permission, "")
	if err := st.RenewConfigureKey(ctx, "n", secret.Hash("again"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := st.ConfigureNode(ctx, secret.Hash("again"), "tok3", secret.Hash("panel3"), time.Now()); err != nil || n.Token != "tok3" {
		t.Errorf("configure with a renewed key = %+v, %v", n, err)
	}
	_, err = st.NodeByPanelToken(ctx, secret.Hash("panel1"))
	expectFault(t, "panel token replaced by a new configure", err, fault.NotExist, "")
	if err := st.SetNodePanelToken(ctx, "n", secret.Hash("panel4")); err != nil {
		t.Fatal(err)
	}
	if n, err := st.NodeByPanelToken(ctx, secret.Hash("panel4")); err != nil || n.ID != "n" {
		t.Errorf("node by its set panel token = %+v, %v", n, err)
	}
	expectFault(t, "set panel token of unknown", st.SetNodePanelToken(ctx, "nope", "h"), fault.NotExist, "")
	if err := st.SetNodeSFTPPort(ctx, "n", 2022); err != nil {
		t.Fatal(err)
	}
	if n, err := st.NodeByID(ctx, "n"); err != nil || n.SFTPPort != 2022 {
		t.Errorf("node after its SFTP port was set = %+v, %v", n, err)
	}
	expectFault(t, "renew unknown", st.RenewConfigureKey(ctx, "nope", "h", time.Now()), fault.NotExist, "")
}

func testAPIKeys(t *testing.T, db database) {
	st := db(t)
	key := secret.NewToken("berth_")
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "k1", Name: "admin", KeyHash: secret.Hash(key), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	k, err := st.APIKeyByHash(ctx, secret.Hash(key))
	if err != nil || k.ID != "k1" || k.Name != "admin" {
		t.Errorf("APIKeyByHash = %+v, %v", k, err)
	}
	_, err = st.APIKeyByHash(ctx, secret.Hash(key+"x"))
	expectFault(t, "unknown key", err, fault.NotExist, "")
}

func testTemplates(t *testing.T, db database) {
	st := db(t)
	if err := st.CreateTemplate(ctx, store.Template{ID: "t1", Name: "Paper", Doc: []byte(`{"Image":"x"}`), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// A template whose id is another's name: the id wins.
	if err := st.CreateTemplate(ctx, store.Template{ID: "paper", Name: "Other", Doc: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "duplicate name", st.CreateTemplate(ctx, store.Template{ID: "t3", Name: "PAPER", Doc: []byte(`{}`)}), fault.Exist, "Name")
	for ref, want := range map[string]string{"t1": "t1", "PAPER": "t1", "Paper": "t1", "paper": "paper", "other": "paper"} {
		got, err := st.TemplateByRef(ctx, ref)
		if err != nil || got.ID != want {
			t.Errorf("TemplateByRef(%q) = %q, %v; want %q", ref, got.ID, err, want)
		}
	}
	_, err := st.TemplateByRef(ctx, "nope")
	expectFault(t, "unknown template", err, fault.NotExist, "")
	if list, err := st.ListTemplates(ctx); err != nil || len(list) != 2 || string(list[1].Doc) != `{"Image":"x"}` {
		t.Errorf("templates = %+v, %v", list, err)
	}
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, false)
	in := instance(t, "a", "u", "n", "80")
	in.TemplateID = "t1"
	mustCreate(t, st, in)
	expectFault(t, "delete a template in use", st.DeleteTemplate(ctx, "t1"), fault.Conflict, "")
	expectFault(t, "delete unknown", st.DeleteTemplate(ctx, "nope"), fault.NotExist, "")
	if err := st.DeleteTemplate(ctx, "paper"); err != nil {
		t.Errorf("delete an unused template: %v", err)
	}
}

func testAuditLog(t *testing.T, db database) {
	st := db(t)
	at := time.Now()
	for i := range 5 {
		if err := st.RecordAudit(ctx, store.AuditEntry{CredentialID: "k", Action: fmt.Sprint("a", i), Target: "x", IP: "192.0.2.1", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.AuditLog(ctx, 3)
	if err != nil || len(list) != 3 {
		t.Fatalf("audit log = %v, %v", list, err)
	}
	for i, e := range list {
		if want := fmt.Sprint("a", 4-i); e.Action != want || e.CredentialID != "k" || e.IP != "192.0.2.1" || !e.At.Equal(at.Truncate(time.Millisecond)) {
			t.Errorf("entry %d = %+v, want action %s (newest first)", i, e, want)
		}
	}
}

func testReopen(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	mustCreate(t, st, instance(t, "a", "u", "n", "80"))
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "k", Name: "k", KeyHash: secret.Hash("key"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	want, _ := st.InstanceByID(ctx, "a")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		st = db(t)
		got, err := st.InstanceByID(ctx, "a")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("instance after reopen = %+v, %v; want %+v", got, err, want)
		}
		if _, err := st.APIKeyByHash(ctx, secret.Hash("key")); err != nil {
			t.Errorf("api key after reopen: %v", err)
		}
		if n, err := st.NodeByID(ctx, "n"); err != nil || n.Token == "" {
			t.Errorf("node after reopen = %+v, %v", n, err)
		}
		expectFault(t, "port after reopen", st.CreateInstance(ctx, instance(t, "b", "u", "n", "80")), fault.Invalid, "ports")
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func testSetObservedByNode(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n1", 8192, 10240, true)
	addNode(t, st, "n2", 8192, 10240, true)
	mustCreate(t, st, instance(t, "a", "u", "n1", "80"))
	if err := st.SetObserved(ctx, "n2", "a", store.Observation{Status: "crashed", ContainerID: "other"}); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.InstanceByID(ctx, "a"); a.Status == "crashed" || a.ContainerID == "other" {
		t.Errorf("node n2's report changed instance a of node n1: %+v", a)
	}
	crash := store.Observation{Status: "crashed", ContainerID: "c1", ExitCode: 137, OOMKilled: true,
		Error: "crashed twice within 60s; not restarting"}
	if err := st.SetObserved(ctx, "n1", "a", crash); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.InstanceByID(ctx, "a"); a.Status != "crashed" || a.ContainerID != "c1" || a.ExitCode != 137 ||
		!a.OOMKilled || a.NodeError != crash.Error {
		t.Errorf("node n1's own report was not recorded: %+v", a)
	}
}
