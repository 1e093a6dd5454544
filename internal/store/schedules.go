package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/schedule"
)

// Schedules of instances (DESIGN §12). The runner's claim is a
// conditional update of next_run_at, portable to both databases: on
// PostgreSQL too, two panels that read the same due row race on the
// update, and the row lock it takes lets exactly one of them change it.

const scheduleColumns = `id, instance_id, name, cron, timezone, enabled, only_when_online, tasks,
	next_run_at, last_run_at, last_result, created_at`

func scanSchedule(row scanner) (schedule.Schedule, error) {
	var sc schedule.Schedule
	var enabled, online int
	var tasks string
	var next, last, created int64
	if err := row.Scan(&sc.ID, &sc.InstanceID, &sc.Name, &sc.Cron, &sc.Timezone, &enabled, &online, &tasks,
		&next, &last, &sc.LastResult, &created); err != nil {
		return sc, err
	}
	if err := json.Unmarshal([]byte(tasks), &sc.Tasks); err != nil {
		return sc, corrupt(err, "stored tasks of schedule %s", sc.ID)
	}
	sc.Enabled, sc.OnlyWhenOnline = enabled == 1, online == 1
	sc.NextRunAt, sc.LastRunAt, sc.CreatedAt = fromMillis(next), fromMillis(last), fromMillis(created)
	return sc, nil
}

func encodeTasks(tasks []schedule.Task) (string, error) {
	if tasks == nil {
		tasks = []schedule.Task{}
	}
	b, err := json.Marshal(tasks)
	return string(b), err
}

// CreateSchedule stores a new schedule. An instance that does not exist
// (or no longer does) is NotExist.
func (s *Store) CreateSchedule(ctx context.Context, sc schedule.Schedule) error {
	tasks, err := encodeTasks(sc.Tasks)
	if err != nil {
		return fmt.Errorf("create schedule: %w", err)
	}
	_, err = s.execFor(ctx, []string{}, `INSERT INTO schedules (`+scheduleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sc.ID, sc.InstanceID, sc.Name, sc.Cron, sc.Timezone, boolInt(sc.Enabled), boolInt(sc.OnlyWhenOnline), tasks,
		millis(sc.NextRunAt), millis(sc.LastRunAt), sc.LastResult, millis(sc.CreatedAt))
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "Instance not found")
	}
	if err != nil {
		return fmt.Errorf("create schedule: %w", err)
	}
	return nil
}

// Schedules lists an instance's schedules, oldest first.
func (s *Store) Schedules(ctx context.Context, instanceID string) ([]schedule.Schedule, error) {
	return queryAll(ctx, s, "schedules", scanSchedule, `SELECT `+scheduleColumns+` FROM schedules
		WHERE instance_id = ? ORDER BY created_at, id`+s.bytewise, instanceID)
}

// Schedule reads one schedule of an instance; another instance's is
// NotExist like a missing one.
func (s *Store) Schedule(ctx context.Context, instanceID, id string) (schedule.Schedule, error) {
	sc, err := scanSchedule(s.queryRow(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = ? AND instance_id = ?`,
		id, instanceID))
	return sc, notFound(err, "schedule")
}

// UpdateSchedule replaces what a request may change of a schedule: its
// name, cron, zone, flags and tasks, and, when moveNext is set (its times
// or its enabled flag changed), the next run time computed from them.
// Without moveNext the stored next run stays as it is: writing back the
// one read before would undo a claim the runner made meanwhile, and run
// the schedule twice. The run history stays. A schedule not of
// sc.InstanceID is NotExist.
func (s *Store) UpdateSchedule(ctx context.Context, sc schedule.Schedule, moveNext bool) error {
	tasks, err := encodeTasks(sc.Tasks)
	if err != nil {
		return fmt.Errorf("update schedule: %w", err)
	}
	set, args := `name = ?, cron = ?, timezone = ?, enabled = ?, only_when_online = ?, tasks = ?`,
		[]any{sc.Name, sc.Cron, sc.Timezone, boolInt(sc.Enabled), boolInt(sc.OnlyWhenOnline), tasks}
	if moveNext {
		set, args = set+`, next_run_at = ?`, append(args, millis(sc.NextRunAt))
	}
	res, err := s.execFor(ctx, []string{}, `UPDATE schedules SET `+set+` WHERE id = ? AND instance_id = ?`, append(args, sc.ID, sc.InstanceID)...)
	return oneScheduleChanged(res, err, "update schedule")
}

// DeleteSchedule removes a schedule of an instance; a run in flight ends
// on its own, its result recorded against no row.
func (s *Store) DeleteSchedule(ctx context.Context, instanceID, id string) error {
	res, err := s.execFor(ctx, []string{}, `DELETE FROM schedules WHERE id = ? AND instance_id = ?`, id, instanceID)
	return oneScheduleChanged(res, err, "delete schedule")
}

// oneScheduleChanged checks that a write by instance and id changed its
// row: none is a schedule not found.
func oneScheduleChanged(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fault.New(fault.NotExist, "schedule not found")
	}
	return nil
}

// DueSchedules lists the enabled schedules whose next run is at or before
// now, the longest overdue first, at most limit.
func (s *Store) DueSchedules(ctx context.Context, now time.Time, limit int) ([]schedule.Schedule, error) {
	return queryAll(ctx, s, "due schedules", scanSchedule, `SELECT `+scheduleColumns+` FROM schedules
		WHERE enabled = 1 AND next_run_at > 0 AND next_run_at <= ? ORDER BY next_run_at, id`+s.bytewise+` LIMIT ?`,
		millis(now), limit)
}

// ClaimScheduleRun moves schedule id's next run from due to next, if it
// is still enabled and still due at due, and reports whether it did: the
// caller that moved it owns the run. A zero next runs it no more. The run
// is recorded as begun at now, its result "running" until it finishes.
func (s *Store) ClaimScheduleRun(ctx context.Context, id string, due, next, now time.Time) (bool, error) {
	res, err := s.execFor(ctx, []string{}, `UPDATE schedules SET next_run_at = ?, last_run_at = ?, last_result = ?
		WHERE id = ? AND next_run_at = ? AND enabled = 1`, millis(next), millis(now), schedule.ResultRunning, id, millis(due))
	if err != nil {
		return false, fmt.Errorf("claim schedule run: %w", err)
	}
	n, err := rowsChanged(res)
	return n == 1, err
}

// FinishScheduleRun records the result of a run begun at ranAt. A
// schedule deleted meanwhile is no error: there is nothing to record on.
func (s *Store) FinishScheduleRun(ctx context.Context, id string, ranAt time.Time, result string) error {
	if _, err := s.execFor(ctx, []string{}, `UPDATE schedules SET last_run_at = ?, last_result = ? WHERE id = ?`,
		millis(ranAt), result, id); err != nil {
		return fmt.Errorf("finish schedule run: %w", err)
	}
	return nil
}

// FailInterruptedScheduleRuns gives the result result to every run still
// "running" that was claimed before before: its panel stopped during the
// run and never finished it. It answers the schedules it changed, as they
// were; with several panels sweeping at once, each row is answered by the
// one whose update changed it.
func (s *Store) FailInterruptedScheduleRuns(ctx context.Context, before time.Time, result string) ([]schedule.Schedule, error) {
	stale, err := queryAll(ctx, s, "interrupted schedule runs", scanSchedule, `SELECT `+scheduleColumns+` FROM schedules
		WHERE last_result = ? AND last_run_at < ? ORDER BY last_run_at, id`+s.bytewise, schedule.ResultRunning, millis(before))
	if err != nil {
		return nil, err
	}
	var failed []schedule.Schedule
	for _, sc := range stale {
		res, err := s.execFor(ctx, []string{}, `UPDATE schedules SET last_result = ? WHERE id = ? AND last_result = ? AND last_run_at = ?`,
			result, sc.ID, schedule.ResultRunning, millis(sc.LastRunAt))
		if err != nil {
			return failed, fmt.Errorf("fail interrupted schedule run: %w", err)
		}
		if n, err := rowsChanged(res); err != nil {
			return failed, fmt.Errorf("fail interrupted schedule run: %w", err)
		} else if n == 1 {
			failed = append(failed, sc)
		}
	}
	return failed, nil
}
