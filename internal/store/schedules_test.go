package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/schedule"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// The schedules' store and the runner's claim, on both databases: the
// claim is the one statement that makes a run happen once, so it is tested
// where it runs.

var scheduleSuite = []struct {
	name string
	test func(*testing.T, database)
}{
	{"ScheduleCRUD", testScheduleCRUD},
	{"SchedulersRacingRunEachDueScheduleOnce", testSchedulersRacing},
	{"MissedRunsAfterDowntimeRunOnce", testMissedRunsRunOnce},
	{"RestartNeitherLosesNorRepeatsARun", testRestartNeitherLosesNorRepeats},
	{"UpdateKeepingTheTimesLeavesAClaimAlone", testUpdateLeavesAClaimAlone},
	{"RunOfAKilledPanelIsFailedAsInterrupted", testInterruptedRunIsFailed},
}

func TestSchedulesOnSQLite(t *testing.T) {
	for _, c := range scheduleSuite {
		t.Run(c.name, func(t *testing.T) { c.test(t, storetest.NewSQLite(t)) })
	}
}

func TestSchedulesOnPostgres(t *testing.T) {
	base := storetest.SkipWithoutPostgres(t)
	for _, c := range scheduleSuite {
		t.Run(c.name, func(t *testing.T) { c.test(t, storetest.NewPostgres(t, base)) })
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// taskLog is schedule.Tasks that records what runs ask for.
type taskLog struct {
	mu      sync.Mutex
	calls   []string // "<schedule id> <action> <payload>"
	results []string // "<schedule id> <result>"
}

func (l *taskLog) add(list *[]string, s string) {
	l.mu.Lock()
	*list = append(*list, s)
	l.mu.Unlock()
}

func (l *taskLog) Online(context.Context, schedule.Schedule) (bool, error) { return true, nil }
func (l *taskLog) Command(_ context.Context, s schedule.Schedule, line string) error {
	l.add(&l.calls, s.ID+" command "+line)
	return nil
}
func (l *taskLog) Power(_ context.Context, s schedule.Schedule, action string) error {
	l.add(&l.calls, s.ID+" power "+action)
	return nil
}
func (l *taskLog) Backup(_ context.Context, s schedule.Schedule, name string) error {
	l.add(&l.calls, s.ID+" backup "+name)
	return nil
}
func (l *taskLog) Record(_ context.Context, s schedule.Schedule, result string) {
	l.add(&l.results, s.ID+" "+result)
}

func (l *taskLog) snapshot() (calls, results []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls), slices.Clone(l.results)
}

// noon is a Monday noon, on the minute.
var noon = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// addSchedule stores an enabled schedule of instance i1 due at next.
func addSchedule(t *testing.T, st *store.Store, id, cron string, next time.Time, tasks ...schedule.Task) schedule.Schedule {
	t.Helper()
	if len(tasks) == 0 {
		tasks = []schedule.Task{{Action: schedule.ActionCommand, Payload: "say " + id}}
	}
	sc := schedule.Schedule{ID: id, InstanceID: "i1", Name: id, Cron: cron, Timezone: "UTC", Enabled: true,
		Tasks: tasks, NextRunAt: next, CreatedAt: noon}
	if err := st.CreateSchedule(ctx, sc); err != nil {
		t.Fatalf("create schedule %s: %v", id, err)
	}
	return sc
}

func readSchedule(t *testing.T, st *store.Store, id string) schedule.Schedule {
	t.Helper()
	sc, err := st.Schedule(ctx, "i1", id)
	if err != nil {
		t.Fatalf("read schedule %s: %v", id, err)
	}
	return sc
}

func testScheduleCRUD(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	a := addSchedule(t, st, "a", "0 4 * * *", noon.Add(time.Hour),
		schedule.Task{Action: schedule.ActionCommand, Payload: "say bye"},
		schedule.Task{Action: schedule.ActionPower, Payload: "restart", OffsetSeconds: 60})
	addSchedule(t, st, "b", "0 5 * * *", noon)
	err := st.CreateSchedule(ctx, schedule.Schedule{ID: "c", InstanceID: "nope", Name: "c", Cron: "* * * * *",
		Timezone: "UTC", Tasks: a.Tasks, CreatedAt: noon})
	expectFault(t, "a schedule of a missing instance", err, fault.NotExist, "")

	got := readSchedule(t, st, "a")
	if got.Name != "a" || got.Cron != "0 4 * * *" || !got.Enabled || got.OnlyWhenOnline || !slices.Equal(got.Tasks, a.Tasks) ||
		!got.NextRunAt.Equal(noon.Add(time.Hour)) || !got.LastRunAt.IsZero() || got.LastResult != "" || !got.CreatedAt.Equal(noon) {
		t.Errorf("read back %+v, want %+v", got, a)
	}
	list, err := st.Schedules(ctx, "i1")
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
		t.Errorf("Schedules = %+v, %v; want a and b", list, err)
	}
	if _, err := st.Schedule(ctx, "other", "a"); !fault.Is(err, fault.NotExist) {
		t.Errorf("schedule a of another instance: %v, want NotExist", err)
	}

	got.Name, got.Enabled, got.OnlyWhenOnline, got.Tasks = "renamed", false, true, got.Tasks[:1]
	got.NextRunAt = time.Time{}
	if err := st.UpdateSchedule(ctx, got, true); err != nil {
		t.Fatal(err)
	}
	if back := readSchedule(t, st, "a"); back.Name != "renamed" || back.Enabled || !back.OnlyWhenOnline ||
		len(back.Tasks) != 1 || !back.NextRunAt.IsZero() {
		t.Errorf("after the update: %+v", back)
	}
	got.InstanceID = "other"
	expectFault(t, "update through another instance", st.UpdateSchedule(ctx, got, true), fault.NotExist, "")
	expectFault(t, "delete through another instance", st.DeleteSchedule(ctx, "other", "a"), fault.NotExist, "")
	if err := st.DeleteSchedule(ctx, "i1", "a"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "delete twice", st.DeleteSchedule(ctx, "i1", "a"), fault.NotExist, "")

	// A disabled schedule, or one with no next run, is never due.
	addSchedule(t, st, "off", "* * * * *", noon)
	off := readSchedule(t, st, "off")
	off.Enabled = false
	if err := st.UpdateSchedule(ctx, off, true); err != nil {
		t.Fatal(err)
	}
	addSchedule(t, st, "never", "* * * * *", time.Time{})
	due, err := st.DueSchedules(ctx, noon, 10)
	if err != nil || len(due) != 1 || due[0].ID != "b" {
		t.Errorf("due = %+v, %v; want b alone", due, err)
	}
	if err := st.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if list, err := st.Schedules(ctx, "i1"); err != nil || len(list) != 0 {
		t.Errorf("schedules of a deleted instance: %+v, %v", list, err)
	}
}

// newRunner is a runner on st with clock and tasks; its offsets pass at
// once unless after is given.
func newRunner(st *store.Store, clock *testClock, tasks schedule.Tasks, after func(time.Duration) <-chan time.Time) *schedule.Runner {
	if after == nil {
		after = func(time.Duration) <-chan time.Time {
			ch := make(chan time.Time, 1)
			ch <- time.Time{}
			return ch
		}
	}
	return schedule.New(schedule.Config{Store: st, Tasks: tasks, Now: clock.Now, After: after, Ticks: make(chan time.Time)})
}

func testSchedulersRacing(t *testing.T, db database) {
	first := db(t)
	sharedSetup(t, first)
	// Two panels: two stores on one database, each with its runner.
	second := db(t)
	const schedules = 20
	for i := range schedules {
		addSchedule(t, first, "s"+string(rune('a'+i)), "*/5 * * * *", noon)
	}
	clock := &testClock{now: noon.Add(30 * time.Second)}
	tasks := &taskLog{}
	runners := []*schedule.Runner{newRunner(first, clock, tasks, nil), newRunner(second, clock, tasks, nil)}
	var wg sync.WaitGroup
	claims := make([]int, len(runners))
	for i, r := range runners {
		wg.Go(func() {
			for range 5 {
				claims[i] += r.Tick(ctx)
			}
		})
	}
	wg.Wait()
	for _, r := range runners {
		r.Wait()
	}
	calls, results := tasks.snapshot()
	if claims[0]+claims[1] != schedules || len(calls) != schedules || len(results) != schedules {
		t.Fatalf("claims %v, %d task calls, %d results; want %d of each", claims, len(calls), len(results), schedules)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		if seen[c] {
			t.Errorf("%q ran twice", c)
		}
		seen[c] = true
	}
	for i := range schedules {
		sc := readSchedule(t, second, "s"+string(rune('a'+i)))
		if want := noon.Add(5 * time.Minute); !sc.NextRunAt.Equal(want) || sc.LastResult != "ok" || !sc.LastRunAt.Equal(clock.Now()) {
			t.Errorf("%s after the run: next %v last %v %q; want next %v, ok", sc.ID, sc.NextRunAt, sc.LastRunAt, sc.LastResult, want)
		}
	}
}

func testMissedRunsRunOnce(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addSchedule(t, st, "often", "*/5 * * * *", noon)
	// The panel was down for three hours: 36 due times went by.
	clock := &testClock{now: noon.Add(3*time.Hour + 2*time.Minute)}
	tasks := &taskLog{}
	r := newRunner(st, clock, tasks, nil)
	for range 3 {
		r.Tick(ctx)
	}
	r.Wait()
	if calls, _ := tasks.snapshot(); len(calls) != 1 {
		t.Errorf("after downtime the schedule ran %d times (%q), want once", len(calls), calls)
	}
	if sc := readSchedule(t, st, "often"); !sc.NextRunAt.Equal(noon.Add(3*time.Hour + 5*time.Minute)) {
		t.Errorf("next run %v, want the first after now, %v", sc.NextRunAt, noon.Add(3*time.Hour+5*time.Minute))
	}
	clock.Set(noon.Add(3*time.Hour + 5*time.Minute))
	r.Tick(ctx)
	r.Wait()
	if calls, _ := tasks.snapshot(); len(calls) != 2 {
		t.Errorf("at the next due time: %d runs in all, want 2", len(calls))
	}
}

func testRestartNeitherLosesNorRepeats(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	warn := schedule.Task{Action: schedule.ActionCommand, Payload: "say restarting in a minute"}
	restart := schedule.Task{Action: schedule.ActionPower, Payload: "restart", OffsetSeconds: 60}
	addSchedule(t, st, "nightly", "0 12 * * *", noon, warn, restart)
	clock := &testClock{now: noon}

	// The first panel claims the run, sends the warning, and is stopped
	// while it waits the minute before the restart.
	tasks := &taskLog{}
	waiting := make(chan struct{})
	blockedAfter := func(time.Duration) <-chan time.Time {
		close(waiting)
		return nil
	}
	first := newRunner(st, clock, tasks, blockedAfter)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		first.Run(runCtx)
		close(done)
	}()
	<-waiting
	stop()
	<-done
	calls, results := tasks.snapshot()
	if !slices.Equal(calls, []string{"nightly command say restarting in a minute"}) || len(results) != 1 ||
		results[0] != "nightly failed: the panel shut down before task 2 (power)" {
		t.Fatalf("the interrupted run: calls %q, results %q", calls, results)
	}

	// A new panel on the same database, the same minute: the run was
	// claimed, so it is not run again.
	again := db(t)
	tasks2 := &taskLog{}
	second := newRunner(again, clock, tasks2, nil)
	if n := second.Tick(ctx); n != 0 {
		t.Errorf("the new panel claimed %d runs of a run already made", n)
	}
	// The panel is down over the next due time and comes back after it:
	// that run is not lost.
	clock.Set(noon.Add(24*time.Hour + 10*time.Minute))
	third := newRunner(db(t), clock, tasks2, nil)
	if n := third.Tick(ctx); n != 1 {
		t.Errorf("after a restart past the due time: %d runs claimed, want 1", n)
	}
	third.Wait()
	calls, _ = tasks2.snapshot()
	if want := []string{"nightly command say restarting in a minute", "nightly power restart"}; !slices.Equal(calls, want) {
		t.Errorf("the new panel ran %q, want %q", calls, want)
	}
	if sc := readSchedule(t, again, "nightly"); !sc.NextRunAt.Equal(noon.Add(48*time.Hour)) || sc.LastResult != "ok" {
		t.Errorf("next %v result %q; want %v, ok", sc.NextRunAt, sc.LastResult, noon.Add(48*time.Hour))
	}
}

// testUpdateLeavesAClaimAlone renames a schedule from a copy read before
// the runner claimed its due run: the claim's next run stays, so the run
// is not due again; an update that moves the times writes them.
func testUpdateLeavesAClaimAlone(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addSchedule(t, st, "due", "*/5 * * * *", noon)
	read := readSchedule(t, st, "due")
	claimed, err := st.ClaimScheduleRun(ctx, "due", noon, noon.Add(5*time.Minute), noon)
	if err != nil || !claimed {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	read.Name = "renamed"
	if err := st.UpdateSchedule(ctx, read, false); err != nil {
		t.Fatal(err)
	}
	if sc := readSchedule(t, st, "due"); sc.Name != "renamed" || !sc.NextRunAt.Equal(noon.Add(5*time.Minute)) {
		t.Errorf("after a rename over a claim: %q next %v; want renamed, next %v", sc.Name, sc.NextRunAt, noon.Add(5*time.Minute))
	}
	if due, err := st.DueSchedules(ctx, noon, 10); err != nil || len(due) != 0 {
		t.Errorf("the claimed run is due again: %+v, %v", due, err)
	}
	read.Cron, read.NextRunAt = "0 13 * * *", noon.Add(time.Hour)
	if err := st.UpdateSchedule(ctx, read, true); err != nil {
		t.Fatal(err)
	}
	if sc := readSchedule(t, st, "due"); !sc.NextRunAt.Equal(noon.Add(time.Hour)) {
		t.Errorf("after a new cron: next %v, want %v", sc.NextRunAt, noon.Add(time.Hour))
	}
}

// testInterruptedRunIsFailed claims a run and never finishes it, as a
// panel killed during the run: it reads "running"; a runner that starts
// before InterruptedAfter has passed leaves it to its live runner, and one
// that looks after fails it, once, with its activity entry.
func testInterruptedRunIsFailed(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addSchedule(t, st, "killed", "0 12 * * *", noon)
	addSchedule(t, st, "finished", "0 12 * * *", noon)
	for _, id := range []string{"killed", "finished"} {
		if ok, err := st.ClaimScheduleRun(ctx, id, noon, noon.Add(24*time.Hour), noon); err != nil || !ok {
			t.Fatalf("claim %s: %v, %v", id, ok, err)
		}
	}
	if sc := readSchedule(t, st, "killed"); sc.LastResult != schedule.ResultRunning || !sc.LastRunAt.Equal(noon) {
		t.Errorf("a claimed run: result %q at %v, want running at %v", sc.LastResult, sc.LastRunAt, noon)
	}
	if err := st.FinishScheduleRun(ctx, "finished", noon, "ok"); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: noon.Add(schedule.InterruptedAfter - time.Second)}
	tasks := &taskLog{}
	if n := newRunner(db(t), clock, tasks, nil).FailInterrupted(ctx); n != 0 {
		t.Errorf("a run younger than %v was failed (%d) while its runner may still be at it", schedule.InterruptedAfter, n)
	}
	clock.Set(noon.Add(schedule.InterruptedAfter + time.Second))
	// Two panels start at once: the run is failed and recorded once.
	var wg sync.WaitGroup
	failed := make([]int, 2)
	for i := range failed {
		r := newRunner(db(t), clock, tasks, nil)
		wg.Go(func() { failed[i] = r.FailInterrupted(ctx) })
	}
	wg.Wait()
	if failed[0]+failed[1] != 1 {
		t.Errorf("failed %v runs, want one in all", failed)
	}
	if sc := readSchedule(t, st, "killed"); sc.LastResult != schedule.ResultInterrupted || !sc.LastRunAt.Equal(noon) ||
		!sc.NextRunAt.Equal(noon.Add(24*time.Hour)) {
		t.Errorf("the interrupted run: %q at %v, next %v", sc.LastResult, sc.LastRunAt, sc.NextRunAt)
	}
	if sc := readSchedule(t, st, "finished"); sc.LastResult != "ok" {
		t.Errorf("a finished run became %q", sc.LastResult)
	}
	if _, results := tasks.snapshot(); !slices.Equal(results, []string{"killed " + schedule.ResultInterrupted}) {
		t.Errorf("activity %q, want the interrupted run's", results)
	}

	// A runner looks as it starts.
	if ok, err := st.ClaimScheduleRun(ctx, "finished", noon.Add(24*time.Hour), noon.Add(48*time.Hour), noon.Add(24*time.Hour)); err != nil || !ok {
		t.Fatalf("claim the next run: %v, %v", ok, err)
	}
	clock.Set(noon.Add(24*time.Hour + schedule.InterruptedAfter + time.Second))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		newRunner(db(t), clock, &taskLog{}, nil).Run(runCtx)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for readSchedule(t, st, "finished").LastResult != schedule.ResultInterrupted {
		if time.Now().After(deadline) {
			t.Error("a starting runner did not fail the interrupted run")
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
}
