package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// The store tests of the admin API's user and key management; they run in
// storeSuite on each backend.

func ptr[T any](v T) *T { return &v }

func testUpdateUserChangesOnlyWhatIsGiven(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "alice")
	addUser(t, st, "bob")
	u, err := st.UpdateUser(ctx, "alice", store.UserChange{Email: ptr("Alice@New.example"), Admin: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "alice" || u.Email != "Alice@New.example" || !u.Admin || u.PasswordHash != "$argon2id$x" {
		t.Errorf("UpdateUser answered %+v", u)
	}
	got, err := st.UserByEmail(ctx, "alice@new.EXAMPLE")
	if err != nil || got.ID != "alice" || !got.Admin {
		t.Errorf("UserByEmail after update = %+v, %v", got, err)
	}
	if _, err := st.UserByEmail(ctx, "alice@example.com"); !fault.Is(err, fault.NotExist) {
		t.Errorf("the old email still finds the user: %v", err)
	}
	if _, err := st.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: ptr("$argon2id$new")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.UserByID(ctx, "alice"); got.PasswordHash != "$argon2id$new" || got.Email != "Alice@New.example" {
		t.Errorf("after a password change the user is %+v", got)
	}
	// Renaming a user to its own name in another case is no clash.
	if u, err := st.UpdateUser(ctx, "alice", store.UserChange{Username: ptr("ALICE")}); err != nil || u.Username != "ALICE" {
		t.Errorf("rename to another case = %+v, %v", u, err)
	}
}

func testUpdateUserRejectsATakenNameOrUnknownUser(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "alice")
	addUser(t, st, "bob")
	_, err := st.UpdateUser(ctx, "bob", store.UserChange{Username: ptr("Alice")})
	expectFault(t, "taken username", err, fault.Exist, "username")
	_, err = st.UpdateUser(ctx, "bob", store.UserChange{Email: ptr("ALICE@example.com")})
	expectFault(t, "taken email", err, fault.Exist, "email")
	_, err = st.UpdateUser(ctx, "nobody", store.UserChange{Admin: ptr(true)})
	expectFault(t, "unknown user", err, fault.NotExist, "")
	if got, _ := st.UserByID(ctx, "bob"); got.Username != "bob" || got.Email != "bob@example.com" {
		t.Errorf("a refused update changed bob: %+v", got)
	}
}

func testDeleteUserRefusesWhileInstancesRemain(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "owner")
	addUser(t, st, "idle")
	addNode(t, st, "n1", 4096, 8192, false)
	mustCreate(t, st, instance(t, "i1", "owner", "n1", "25565"))
	expectFault(t, "owner of an instance", st.DeleteUser(ctx, "owner"), fault.Conflict, "")
	if _, err := st.UserByID(ctx, "owner"); err != nil {
		t.Errorf("a refused delete removed the user: %v", err)
	}
	if err := st.DeleteUser(ctx, "idle"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByID(ctx, "idle"); !fault.Is(err, fault.NotExist) {
		t.Errorf("deleted user still found: %v", err)
	}
	expectFault(t, "deleted again", st.DeleteUser(ctx, "idle"), fault.NotExist, "")
	if err := st.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteUser(ctx, "owner"); err != nil {
		t.Errorf("delete after the instance went: %v", err)
	}
}

func testAPIKeysListAndRevoke(t *testing.T, db database) {
	st := db(t)
	now := time.UnixMilli(1700000000000).UTC()
	first, key1, err := st.IssueAPIKey(ctx, "first", now)
	if err != nil {
		t.Fatal(err)
	}
	second, key2, err := st.IssueAPIKey(ctx, "second", now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if key1 == key2 || first.KeyHash != secret.Hash(key1) {
		t.Fatalf("IssueAPIKey made %+v %q and %q", first, key1, key2)
	}
	if err := st.RevokeAPIKey(ctx, first.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.APIKeyByHash(ctx, secret.Hash(key1)); !fault.Is(err, fault.NotExist) {
		t.Errorf("a revoked key still authenticates: %v", err)
	}
	// Revoking a revoked key changes nothing, and the last live key stays.
	if err := st.RevokeAPIKey(ctx, first.ID, now.Add(time.Hour)); err != nil {
		t.Errorf("revoke again: %v", err)
	}
	expectFault(t, "last live key", st.RevokeAPIKey(ctx, second.ID, now), fault.Conflict, "")
	expectFault(t, "unknown key", st.RevokeAPIKey(ctx, "nope", now), fault.NotExist, "")
	list, err := st.ListAPIKeys(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAPIKeys = %+v, %v", list, err)
	}
	if list[0].ID != first.ID || !list[0].RevokedAt.Equal(now.Add(time.Minute)) || !list[1].RevokedAt.IsZero() ||
		list[1].Name != "second" || !list[1].CreatedAt.Equal(now.Add(time.Second)) {
		t.Errorf("ListAPIKeys = %+v", list)
	}
	if _, err := st.APIKeyByHash(ctx, secret.Hash(key2)); err != nil {
		t.Errorf("the last key stopped working: %v", err)
	}
}

func testConcurrentRevokesLeaveOneKey(t *testing.T, db database) {
	st := db(t)
	var ids []string
	for range 6 {
		k, _, err := st.IssueAPIKey(ctx, "k", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = st.RevokeAPIKey(ctx, id, time.Now()) })
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		if err != nil {
			expectFault(t, "racing revoke", err, fault.Conflict, "")
			refused++
		}
	}
	if ok, err := st.HasAPIKeys(ctx); err != nil || !ok || refused != 1 {
		t.Errorf("after racing revokes: live keys %v (%v), %d refused; want one key left and one refusal", ok, err, refused)
	}
}
