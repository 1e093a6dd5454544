package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Store is what the runner needs of the database.
type Store interface {
	// DueSchedules lists enabled schedules whose next run is at or before
	// now, oldest first, at most limit.
	DueSchedules(ctx context.Context, now time.Time, limit int) ([]Schedule, error)
	// ClaimScheduleRun moves the next run of schedule id from due to next
	// if it still is due, and reports whether this call moved it: the one
	// that did owns the run, on this panel or any other.
	ClaimScheduleRun(ctx context.Context, id string, due, next, now time.Time) (bool, error)
	// FinishScheduleRun records the result of a run begun at ranAt.
	FinishScheduleRun(ctx context.Context, id string, ranAt time.Time, result string) error
	// FailInterruptedScheduleRuns gives result to the runs still
	// ResultRunning that were claimed before before, and answers the
	// schedules whose run this call failed.
	FailInterruptedScheduleRuns(ctx context.Context, before time.Time, result string) ([]Schedule, error)
}

// ResultRunning is the result of a run claimed and not yet finished.
const ResultRunning = "running"

// ResultInterrupted is the result of a claimed run that no panel finished:
// the one that ran it was killed, or lost its database, during the run.
const ResultInterrupted = "failed: interrupted (the panel stopped during the run)"

// InterruptedAfter is how long after its claim a run still "running" is
// taken for interrupted. A run's tasks start at most MaxOffset (15 min)
// after it began, and a task's own wait is bounded by minutes (a power
// action's is 2); 20 minutes is past the longest run that is alive, so a
// runner on another panel still running it is never overruled.
const InterruptedAfter = 20 * time.Minute

// Tasks carries out what a run asks of an instance; the panel implements
// it. Every method takes the schedule, so that what it does is recorded as
// the schedule's doing.
type Tasks interface {
	// Online reports whether the instance is running, for onlyWhenOnline.
	Online(ctx context.Context, s Schedule) (bool, error)
	Command(ctx context.Context, s Schedule, line string) error
	Power(ctx context.Context, s Schedule, action string) error
	Backup(ctx context.Context, s Schedule, name string) error
	// Record writes the run's result to the activity log.
	Record(ctx context.Context, s Schedule, result string)
}

// Config is what a Runner needs.
type Config struct {
	Store Store
	Tasks Tasks
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After waits for a task's offset; nil means time.After. Tests make
	// time pass with it.
	After func(time.Duration) <-chan time.Time
	// Ticks paces the look for due schedules; nil means every Interval.
	Ticks <-chan time.Time
	// Interval is how often Run looks when Ticks is nil; 0 means 10 s.
	Interval time.Duration
}

// dueBatch caps the schedules one tick claims; the rest wait a tick.
const dueBatch = 100

// finishTimeout bounds the write of a result, which outlives a run cut
// short by shutdown.
const finishTimeout = 10 * time.Second

// Runner runs due schedules. Each tick it reads the due ones and claims
// each with a conditional update of its next run time: a run is owned by
// the one claim that moved it, so two panels on one database, or a panel
// and itself after a restart, never run it twice. The next run is always
// the first after now, so a panel that was down over several due times
// runs the schedule once, not once for each. A claimed run is not run
// again after a crash: a run is at most once, and what it did not reach
// is in its result. A run is "running" from its claim to its result; one
// whose panel was killed in between is failed as interrupted by the next
// runner to look (FailInterrupted).
type Runner struct {
	cfg Config
	// runs tracks the runs in flight, which Run waits for before it ends.
	runs sync.WaitGroup
}

// New builds a runner; call Run to start it.
func New(cfg Config) *Runner {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	return &Runner{cfg: cfg}
}

// Run claims and runs due schedules every tick until ctx ends, then waits
// for the runs in flight, which ctx's end cuts short between two tasks.
// It fails the runs interrupted before it started as it starts, and
// looks again every InterruptedAfter for those of panels that stopped
// since (see FailInterrupted).
func (r *Runner) Run(ctx context.Context) {
	defer r.runs.Wait()
	ticks := r.cfg.Ticks
	if ticks == nil {
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		ticks = t.C
	}
	var swept time.Time
	for {
		if now := r.cfg.Now(); swept.IsZero() || now.Sub(swept) >= InterruptedAfter {
			r.FailInterrupted(ctx)
			swept = now
		}
		r.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// Tick claims the schedules due now and starts their runs, and returns
// how many it claimed.
func (r *Runner) Tick(ctx context.Context) int {
	now := r.cfg.Now()
	due, err := r.cfg.Store.DueSchedules(ctx, now, dueBatch)
	if err != nil {
		if ctx.Err() == nil {
			r.cfg.Log.Error("schedules: read due", "err", err)
		}
		return 0
	}
	claimed := 0
	for _, s := range due {
		var next time.Time
		spec, err := Parse(s.Cron, s.Timezone)
		if err == nil {
			next = spec.Next(now)
		}
		ok, cerr := r.cfg.Store.ClaimScheduleRun(ctx, s.ID, s.NextRunAt, next, now)
		if cerr != nil {
			if ctx.Err() == nil {
				r.cfg.Log.Error("schedules: claim", "schedule", s.ID, "err", cerr)
			}
			continue
		}
		if !ok {
			continue
		}
		claimed++
		s.NextRunAt = next
		if err != nil {
			// Stored before a rule it breaks: it runs no more (next is
			// zero) and says why.
			r.finish(ctx, s, now, "failed: "+err.Error())
			continue
		}
		r.start(ctx, s)
	}
	return claimed
}

// FailInterrupted gives ResultInterrupted to every run still "running"
// whose claim is older than InterruptedAfter, records that result in the
// activity log of each, and returns how many it failed. Such a run's
// panel was killed during it: a run is never repeated, so this is all
// that is left to do for it.
func (r *Runner) FailInterrupted(ctx context.Context) int {
	failed, err := r.cfg.Store.FailInterruptedScheduleRuns(ctx, r.cfg.Now().Add(-InterruptedAfter), ResultInterrupted)
	if err != nil && ctx.Err() == nil {
		r.cfg.Log.Error("schedules: fail interrupted runs", "err", err)
	}
	for _, s := range failed {
		r.cfg.Tasks.Record(ctx, s, ResultInterrupted)
	}
	return len(failed)
}

// RunNow runs s at once, whatever its next run time, until ctx ends; the
// caller has checked onlyWhenOnline. It does not wait for the run.
func (r *Runner) RunNow(ctx context.Context, s Schedule) {
	r.start(ctx, s)
}

// Wait waits for the runs in flight.
func (r *Runner) Wait() { r.runs.Wait() }

func (r *Runner) start(ctx context.Context, s Schedule) {
	r.runs.Go(func() {
		began := r.cfg.Now()
		r.finish(ctx, s, began, r.execute(ctx, s, began))
	})
}

// finish records a run's result, even when ctx has ended.
func (r *Runner) finish(ctx context.Context, s Schedule, began time.Time, result string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := r.cfg.Store.FinishScheduleRun(ctx, s.ID, began, result); err != nil {
		r.cfg.Log.Error("schedules: record result", "schedule", s.ID, "err", err)
	}
	r.cfg.Tasks.Record(ctx, s, result)
}

// errShutdown cuts a run short when the panel stops.
var errShutdown = errors.New("the panel shut down")

// execute takes s's tasks in order, each at its offset from began, and
// answers the run's result: "ok", "skipped: ..." or "failed: ...". A
// failed task ends the run: a restart after a failed "save-all" would lose
// the world it did not save.
func (r *Runner) execute(ctx context.Context, s Schedule, began time.Time) string {
	if s.OnlyWhenOnline {
		online, err := r.cfg.Tasks.Online(ctx, s)
		switch {
		case err != nil:
			return "failed: " + err.Error()
		case !online:
			return "skipped: the instance is not running"
		}
	}
	for i, t := range s.Tasks {
		if err := r.waitUntil(ctx, began.Add(time.Duration(t.OffsetSeconds)*time.Second)); err != nil {
			return fmt.Sprintf("failed: %v before task %d (%s)", err, i+1, t.Action)
		}
		var err error
		switch t.Action {
		case ActionCommand:
			err = r.cfg.Tasks.Command(ctx, s, t.Payload)
		case ActionPower:
			err = r.cfg.Tasks.Power(ctx, s, t.Payload)
		case ActionBackup:
			err = r.cfg.Tasks.Backup(ctx, s, t.Payload)
		default:
			err = fmt.Errorf("unknown action %q", t.Action)
		}
		if err != nil {
			return fmt.Sprintf("failed: task %d (%s): %v", i+1, t.Action, err)
		}
	}
	return "ok"
}

// waitUntil waits on the runner's clock until at, or for ctx's end.
func (r *Runner) waitUntil(ctx context.Context, at time.Time) error {
	if ctx.Err() != nil {
		return errShutdown
	}
	d := at.Sub(r.cfg.Now())
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return errShutdown
	case <-r.cfg.After(d):
		return nil
	}
}
