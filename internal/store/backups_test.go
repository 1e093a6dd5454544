package store_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// backupSuite runs on both databases with the rest of the store's tests.
var backupSuite = []struct {
	name string
	test func(*testing.T, database)
}{
	{"BackupLimitCountsCreatingAndCompletedNotFailed", testBackupLimit},
	{"ConcurrentBackupCreatesKeepToTheLimit", testBackupLimitRace},
	{"BackupEndsOnceAndIsFollowedUntilThen", testBackupFinish},
	{"LockedBackupRefusesDeleteUntilUnlocked", testBackupLock},
	{"BackupsGoWithTheirInstanceLockedOnesToo", testBackupsCascade},
}

// backupSetup stores owner's instance i1 on node n1 with a backup limit.
func backupSetup(t *testing.T, st *store.Store, limit int) {
	t.Helper()
	addUser(t, st, "owner")
	addNode(t, st, "n1", 8192, 8192, true)
	in := instance(t, "i1", "owner", "n1", "25565")
	in.BackupLimit = limit
	mustCreate(t, st, in)
}

func newBackup(id string) store.Backup {
	return store.Backup{ID: id, InstanceID: "i1", NodeID: "n1", Name: id, State: nodeapi.BackupCreating,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

func mustBackup(t *testing.T, st *store.Store, id string) {
	t.Helper()
	if err := st.CreateBackup(ctx, newBackup(id)); err != nil {
		t.Fatalf("create backup %s: %v", id, err)
	}
}

func finish(t *testing.T, st *store.Store, id, state string) {
	t.Helper()
	if ended, err := st.FinishBackup(ctx, store.Backup{ID: id, State: state, CompletedAt: time.Now()}); err != nil || !ended {
		t.Fatalf("finish %s as %s = %v, %v", id, state, ended, err)
	}
}

func testBackupLimit(t *testing.T, db database) {
	st := db(t)
	backupSetup(t, st, 2)
	if in, _ := st.InstanceByID(ctx, "i1"); in.BackupLimit != 2 {
		t.Fatalf("backup limit reads %d, want 2", in.BackupLimit)
	}
	mustBackup(t, st, "b1")
	mustBackup(t, st, "b2")
	expectFault(t, "a third backup of 2", st.CreateBackup(ctx, newBackup("b3")), fault.Conflict, "backupLimit")
	// A failed backup holds no archive and gives its place back.
	finish(t, st, "b1", nodeapi.BackupFailed)
	mustBackup(t, st, "b3")
	finish(t, st, "b3", nodeapi.BackupCompleted)
	expectFault(t, "past the limit with a completed one", st.CreateBackup(ctx, newBackup("b4")), fault.Conflict, "backupLimit")

	if _, err := st.SetBackupLimit(ctx, "i1", 0); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteBackup(ctx, "i1", "b1"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "limit 0 allows none", st.CreateBackup(ctx, newBackup("b5")), fault.Conflict, "backupLimit")
	b := newBackup("b6")
	b.InstanceID = "nope"
	expectFault(t, "backup of a missing instance", st.CreateBackup(ctx, b), fault.NotExist, "")

	list, err := st.Backups(ctx, "i1")
	if err != nil || len(list) != 2 || list[0].ID != "b3" || list[1].ID != "b2" {
		t.Errorf("backups = %+v, %v; want b3 then b2, newest first", list, err)
	}
}

func testBackupLimitRace(t *testing.T, db database) {
	st := db(t)
	backupSetup(t, st, 3)
	const racers = 12
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() { errs[i] = st.CreateBackup(ctx, newBackup(store.NewID(8))) })
	}
	wg.Wait()
	made := 0
	for _, err := range errs {
		switch {
		case err == nil:
			made++
		case !fault.Is(err, fault.Conflict):
			t.Errorf("create: %v, want a conflict or success", err)
		}
	}
	if list, _ := st.Backups(ctx, "i1"); made != 3 || len(list) != 3 {
		t.Errorf("%d creates succeeded and %d backups stored, want 3 of each", made, len(list))
	}
}

func testBackupFinish(t *testing.T, db database) {
	st := db(t)
	backupSetup(t, st, 3)
	addWebhook(t, st, "h", "i1", store.EventBackupCompleted, store.EventBackupFailed)
	mustBackup(t, st, "b1")
	mustBackup(t, st, "b2")
	followed, err := st.FollowedBackups(ctx, "n1")
	if err != nil || len(followed) != 2 {
		t.Fatalf("followed = %+v, %v; want both", followed, err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	done := store.Backup{ID: "b1", State: nodeapi.BackupCompleted, Bytes: 1234, SHA256: "ab12", CompletedAt: at}
	if ended, err := st.FinishBackup(ctx, done); err != nil || !ended {
		t.Fatalf("finish = %v, %v", ended, err)
	}
	// A second end, say a late answer after the first, changes nothing.
	if ended, err := st.FinishBackup(ctx, store.Backup{ID: "b1", State: nodeapi.BackupFailed, Error: "late"}); err != nil || ended {
		t.Errorf("second finish = %v, %v; want not ended", ended, err)
	}
	// The end, not the late answer, is announced to the instance's
	// webhooks, once.
	if got := events(t, st, "h"); !slices.Equal(got, []string{store.EventBackupCompleted}) {
		t.Errorf("webhook events = %v, want one backup.completed", got)
	}
	finish(t, st, "b2", nodeapi.BackupFailed)
	if got := events(t, st, "h"); !slices.Equal(got, []string{store.EventBackupCompleted, store.EventBackupFailed}) {
		t.Errorf("webhook events = %v, want backup.completed then backup.failed", got)
	}
	b, err := st.BackupByID(ctx, "i1", "b1")
	if err != nil || b.State != nodeapi.BackupCompleted || b.Bytes != 1234 || b.SHA256 != "ab12" || !b.CompletedAt.Equal(at) || b.Error != "" {
		t.Errorf("backup = %+v, %v", b, err)
	}
	if followed, _ := st.FollowedBackups(ctx, "n1"); len(followed) != 0 {
		t.Errorf("followed after both ended = %+v, want none", followed)
	}
	// A restore is followed until it ends too.
	if err := st.SetBackupRestore(ctx, "b1", nodeapi.RestoreRunning, ""); err != nil {
		t.Fatal(err)
	}
	if followed, _ := st.FollowedBackups(ctx, "n1"); len(followed) != 1 || followed[0].ID != "b1" {
		t.Errorf("followed with a restore running = %+v, want b1", followed)
	}
	if err := st.SetBackupRestore(ctx, "b1", nodeapi.RestoreFailed, "disk full"); err != nil {
		t.Fatal(err)
	}
	if b, _ := st.BackupByID(ctx, "i1", "b1"); b.Restore != nodeapi.RestoreFailed || b.RestoreError != "disk full" {
		t.Errorf("restore = %q %q", b.Restore, b.RestoreError)
	}
	if _, err := st.BackupByID(ctx, "other", "b1"); !fault.Is(err, fault.NotExist) {
		t.Errorf("a backup read through another instance: %v, want NotExist", err)
	}
}

func testBackupLock(t *testing.T, db database) {
	st := db(t)
	backupSetup(t, st, 3)
	mustBackup(t, st, "b1")
	b, err := st.SetBackupLocked(ctx, "i1", "b1", true)
	if err != nil || !b.Locked {
		t.Fatalf("lock = %+v, %v", b, err)
	}
	expectFault(t, "delete a locked backup", st.DeleteBackup(ctx, "i1", "b1"), fault.Conflict, "")
	if b, err := st.SetBackupLocked(ctx, "i1", "b1", false); err != nil || b.Locked {
		t.Fatalf("unlock = %+v, %v", b, err)
	}
	if err := st.DeleteBackup(ctx, "i1", "b1"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "delete twice", st.DeleteBackup(ctx, "i1", "b1"), fault.NotExist, "")
	_, err = st.SetBackupLocked(ctx, "i1", "b1", true)
	expectFault(t, "lock a missing backup", err, fault.NotExist, "")
}

func testBackupsCascade(t *testing.T, db database) {
	st := db(t)
	backupSetup(t, st, 3)
	mustBackup(t, st, "b1")
	mustBackup(t, st, "b2")
	if _, err := st.SetBackupLocked(ctx, "i1", "b2", true); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if list, err := st.Backups(ctx, "i1"); err != nil || len(list) != 0 {
		t.Errorf("backups of a deleted instance = %+v, %v; want none, the locked one included", list, err)
	}
	if followed, _ := st.FollowedBackups(ctx, "n1"); len(followed) != 0 {
		t.Errorf("a deleted instance's backups are still followed: %+v", followed)
	}
}
