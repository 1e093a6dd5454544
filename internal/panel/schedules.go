package panel

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/schedule"
	"github.com/berth-dev/berth/internal/store"
)

// Schedules of an instance (DESIGN §12), under
// /api/client/instances/{id}/schedules for users holding "schedules" and
// /api/instances/schedules/{id} for admin keys. The runner itself is in
// package schedule; this file is its API and the tasks it carries out
// through the panel's own paths, recorded as the schedule's doing.

// maxSchedules caps an instance's schedules.
const maxSchedules = 50

// scheduleView is a schedule as the API shows it.
type scheduleView struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Cron           string          `json:"cron" doc:"five fields: minute hour day-of-month month day-of-week"`
	Timezone       string          `json:"timezone" doc:"the IANA zone the cron is read in"`
	Enabled        bool            `json:"enabled"`
	OnlyWhenOnline bool            `json:"onlyWhenOnline" doc:"a run while the instance is not running is skipped"`
	Tasks          []schedule.Task `json:"tasks"`
	// NextRunAt is null while the schedule is disabled.
	NextRunAt  *time.Time `json:"nextRunAt"`
	LastRunAt  *time.Time `json:"lastRunAt"`
	LastResult string     `json:"lastResult" doc:"running, ok, skipped: ..., or failed: ...; empty before the first run"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// scheduleBody is the body of a create or a change, for the document.
type scheduleBody struct {
	Name           string          `json:"name"`
	Cron           string          `json:"cron" doc:"five fields, such as \"30 4 * * *\""`
	Timezone       string          `json:"timezone,omitempty" doc:"an IANA zone; UTC when absent"`
	Enabled        bool            `json:"enabled,omitempty" doc:"true when absent on create"`
	OnlyWhenOnline bool            `json:"onlyWhenOnline,omitempty"`
	Tasks          []schedule.Task `json:"tasks" doc:"1 to 20, in order; action command (payload: the line), power (start, stop, restart or kill) or backup (payload: an optional name); offsetSeconds from the run's start, 0 to 900, never less than the task before"`
}

func viewSchedule(sc schedule.Schedule) scheduleView {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return scheduleView{ID: sc.ID, Name: sc.Name, Cron: sc.Cron, Timezone: sc.Timezone, Enabled: sc.Enabled,
		OnlyWhenOnline: sc.OnlyWhenOnline, Tasks: sc.Tasks, NextRunAt: at(sc.NextRunAt), LastRunAt: at(sc.LastRunAt),
		LastResult: sc.LastResult, CreatedAt: sc.CreatedAt}
}

// readSchedule reads a schedule from b over base: every field for a create
// or a PUT (partial false), only those sent for a PATCH. It validates the
// result and sets its next run from now, and reports whether it moved it:
// when it did not, the stored next run is not to be written (see
// store.UpdateSchedule).
func (s *Server) readSchedule(b body, base schedule.Schedule, partial bool) (schedule.Schedule, bool, error) {
	sc := base
	var err error
	text := func(name string, max int, into *string) {
		if err == nil && (!partial || b.present(name)) {
			*into, err = b.str(name, name != "timezone", max)
		}
	}
	// A flag not sent keeps its value, on a create the default of base.
	flag := func(name string, into *bool) {
		if err == nil && b.present(name) {
			*into, err = b.boolean(name)
		}
	}
	text("name", schedule.MaxNameBytes, &sc.Name)
	text("cron", 200, &sc.Cron)
	text("timezone", 64, &sc.Timezone)
	flag("enabled", &sc.Enabled)
	flag("onlyWhenOnline", &sc.OnlyWhenOnline)
	if err == nil && (!partial || b.present("tasks")) {
		sc.Tasks, err = b.tasks("tasks")
	}
	if err != nil {
		return sc, false, err
	}
	if sc.Timezone == "" {
		sc.Timezone = "UTC"
	}
	spec, err := schedule.Validate(sc)
	if err != nil {
		return sc, false, err
	}
	switch {
	case !sc.Enabled && !base.Enabled:
		return sc, false, nil
	case !sc.Enabled:
		sc.NextRunAt = time.Time{}
	case base.Enabled && sc.Cron == base.Cron && sc.Timezone == base.Timezone && !base.NextRunAt.IsZero():
		// The times are as they were: a run due and not yet taken stays
		// due, rather than a rename skipping it.
		return sc, false, nil
	default:
		sc.NextRunAt = spec.Next(s.now())
	}
	return sc, true, nil
}

// tasks reads a schedule's list of tasks; each task's fields are checked
// as the body's own are, named "tasks[i].action" and so on.
func (b body) tasks(name string) ([]schedule.Task, error) {
	if !b.present(name) {
		return nil, fault.InvalidField(name, "is required")
	}
	var raw []json.RawMessage
	if json.Unmarshal(b[name], &raw) != nil {
		return nil, fault.InvalidField(name, "must be an array of tasks")
	}
	if len(raw) == 0 || len(raw) > schedule.MaxTasks {
		return nil, fault.InvalidField(name, "must list 1 to %d tasks", schedule.MaxTasks)
	}
	out := make([]schedule.Task, len(raw))
	for i, r := range raw {
		prefix := name + "[" + strconv.Itoa(i) + "]."
		var fields map[string]json.RawMessage
		if json.Unmarshal(r, &fields) != nil || fields == nil {
			return nil, fault.InvalidField(name+"["+strconv.Itoa(i)+"]", "must be an object")
		}
		// The task's fields under their full names, so that body's
		// readers name them so in their errors.
		tb := body{}
		for k, v := range fields {
			tb[prefix+k] = v
		}
		action, err := tb.str(prefix+"action", true, 16)
		if err != nil {
			return nil, err
		}
		payload, err := tb.str(prefix+"payload", false, schedule.MaxPayload)
		if err != nil {
			return nil, err
		}
		offset, err := tb.integer(prefix+"offsetSeconds", false, 0, schedule.MaxOffset)
		if err != nil {
			return nil, err
		}
		out[i] = schedule.Task{Action: action, Payload: payload, OffsetSeconds: int(offset)}
	}
	return out, nil
}

// listSchedules answers an instance's schedules.
func (s *Server) listSchedules(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := f(r)
		if err != nil {
			return err
		}
		list, err := s.store.Schedules(r.Context(), t.in.ID)
		if err != nil {
			return err
		}
		out := make([]scheduleView, len(list))
		for i, sc := range list {
			out[i] = viewSchedule(sc)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// createSchedule stores a new schedule: 201 with it.
func (s *Server) createSchedule(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		sc, _, err := s.readSchedule(b, schedule.Schedule{Enabled: true}, false)
		if err != nil {
			return err
		}
		t, err := f(r)
		if err != nil {
			return err
		}
		if err := mayRunTasks(r, t, sc.Tasks); err != nil {
			return err
		}
		list, err := s.store.Schedules(r.Context(), t.in.ID)
		if err != nil {
			return err
		}
		if len(list) >= maxSchedules {
			return fault.New(fault.Conflict, "an instance has at most %d schedules", maxSchedules)
		}
		sc.ID, sc.InstanceID, sc.CreatedAt = store.NewID(8), t.in.ID, s.now().UTC().Truncate(time.Millisecond)
		if err := s.store.CreateSchedule(r.Context(), sc); err != nil {
			return err
		}
		s.recordSchedule(r, "instance.schedule.create", sc)
		writeJSON(w, http.StatusCreated, viewSchedule(sc))
		return nil
	}
}

// getSchedule answers one schedule.
func (s *Server) getSchedule(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		_, sc, err := s.pathSchedule(r, f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewSchedule(sc))
		return nil
	}
}

// changeSchedule replaces a schedule (PUT) or the fields sent (PATCH), and
// moves its next run to the first the new rules name.
func (s *Server) changeSchedule(f instanceFront, partial bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		t, sc, err := s.pathSchedule(r, f)
		if err != nil {
			return err
		}
		sc, moved, err := s.readSchedule(b, sc, partial)
		if err != nil {
			return err
		}
		// The tasks the schedule ends with, sent or kept: a PATCH that
		// only enables a schedule still lets its tasks run.
		if err := mayRunTasks(r, t, sc.Tasks); err != nil {
			return err
		}
		if err := s.store.UpdateSchedule(r.Context(), sc, moved); err != nil {
			return err
		}
		if !moved {
			// Answer the next run as stored, which a claim may have moved
			// since it was read.
			if sc, err = s.store.Schedule(r.Context(), sc.InstanceID, sc.ID); err != nil {
				return err
			}
		}
		s.recordSchedule(r, "instance.schedule.update", sc)
		writeJSON(w, http.StatusOK, viewSchedule(sc))
		return nil
	}
}

// deleteSchedule removes a schedule: 204.
func (s *Server) deleteSchedule(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, sc, err := s.pathSchedule(r, f)
		if err != nil {
			return err
		}
		if err := s.store.DeleteSchedule(r.Context(), t.in.ID, sc.ID); err != nil {
			return err
		}
		s.recordSchedule(r, "instance.schedule.delete", sc)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// runSchedule starts a run of a schedule now, whatever its cron says, and
// answers 202 with the schedule; the result comes to lastResult and the
// activity log. An onlyWhenOnline schedule of an instance that is not
// running is refused with 409 rather than skipped, since the caller is
// there to hear why.
func (s *Server) runSchedule(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, sc, err := s.pathSchedule(r, f)
		if err != nil {
			return err
		}
		if err := mayRunTasks(r, t, sc.Tasks); err != nil {
			return err
		}
		if sc.OnlyWhenOnline && !instanceOnline(t.in) {
			return fault.New(fault.Conflict, "this schedule runs only when the instance is running, and it is %s", t.in.Status)
		}
		s.recordSchedule(r, "instance.schedule.run", sc)
		s.schedules.RunNow(s.base, sc)
		writeJSON(w, http.StatusAccepted, viewSchedule(sc))
		return nil
	}
}

// taskNeeds is the permission each action of a task takes when a caller
// does it by hand: a schedule is no way around it.
var taskNeeds = map[string]access.Permission{
	schedule.ActionCommand: access.ConsoleWrite,
	schedule.ActionPower:   access.Power,
	schedule.ActionBackup:  access.Backups,
}

// mayRunTasks asks the authorizer, for the caller of r on t, for each
// permission tasks take beyond "schedules", and refuses with the first
// task that takes one the caller lacks, as "tasks[i].action: ...". Owners
// and admins hold them all; a subuser holding only "schedules" could
// otherwise have the schedule do what it was never granted.
func mayRunTasks(r *http.Request, t target, tasks []schedule.Task) error {
	asked := map[access.Permission]bool{}
	for i, task := range tasks {
		need, ok := taskNeeds[task.Action]
		if !ok || asked[need] {
			continue
		}
		asked[need] = true
		err := t.may(r.Context(), callerOf(r), access.Action{Need: need, Change: true})
		if fault.Is(err, fault.Permission) {
			field := "tasks[" + strconv.Itoa(i) + "].action"
			return &fault.Error{Kind: fault.Permission, Field: field,
				Msg: field + ": a " + task.Action + " task: " + fault.Message(err)}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pathSchedule resolves the instance through f and its schedule named by
// the path's scheduleId.
func (s *Server) pathSchedule(r *http.Request, f instanceFront) (target, schedule.Schedule, error) {
	id, err := pathValue(r, "scheduleId")
	if err != nil {
		return target{}, schedule.Schedule{}, err
	}
	t, err := f(r)
	if err != nil {
		return t, schedule.Schedule{}, err
	}
	sc, err := s.store.Schedule(r.Context(), t.in.ID, id)
	return t, sc, err
}

// recordSchedule records a caller's change to sc.
func (s *Server) recordSchedule(r *http.Request, action string, sc schedule.Schedule) {
	s.record(r, store.AuditEntry{Action: action, InstanceID: sc.InstanceID, Target: sc.ID, Detail: sc.Name})
}

// instanceOnline reports whether in is running, as last observed.
func instanceOnline(in store.Instance) bool {
	return in.Status == nodeapi.StatusRunning && !in.Suspended && in.InternalState == store.StateReady
}

// RunSchedules runs the schedules that fall due until ctx ends, then waits
// for the runs in flight; the panel's background work starts it beside the
// reconciler.
func (s *Server) RunSchedules(ctx context.Context) { s.schedules.Run(ctx) }

// scheduleActorKind is the actor kind of what a schedule does, in the
// activity log; its credential id is the schedule's id.
const scheduleActorKind = "schedule"

// scheduleTasks carries out the runner's tasks through the panel's own
// paths: the power path of the API and the console, the node's command
// endpoint. What they do is recorded as the schedule's doing.
type scheduleTasks struct{ s *Server }

var _ schedule.Tasks = scheduleTasks{}

// instance reads the schedule's instance as it is now.
func (st scheduleTasks) instance(ctx context.Context, sc schedule.Schedule) (store.Instance, error) {
	return st.s.store.InstanceByID(ctx, sc.InstanceID)
}

// Online reports whether the schedule's instance is running.
func (st scheduleTasks) Online(ctx context.Context, sc schedule.Schedule) (bool, error) {
	in, err := st.instance(ctx, sc)
	return err == nil && instanceOnline(in), err
}

// Command types line on the instance's console.
func (st scheduleTasks) Command(ctx context.Context, sc schedule.Schedule, line string) error {
	in, err := st.instance(ctx, sc)
	if err != nil {
		return err
	}
	if in.Suspended {
		return fault.New(fault.Conflict, "instance is suspended; commands are refused")
	}
	c, err := st.s.nodeClient(ctx, in)
	if err != nil {
		return err
	}
	if err := c.SendCommand(ctx, in.ID, line); err != nil {
		return nodeFault(in, err)
	}
	st.record(ctx, sc, store.AuditEntry{Action: "instance.console.command", Target: in.ID,
		Detail: shorten(line, maxRecordedCommand)})
	return nil
}

// Power runs a power action as the power endpoint does.
func (st scheduleTasks) Power(ctx context.Context, sc schedule.Schedule, action string) error {
	in, err := st.instance(ctx, sc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, powerTimeout)
	defer cancel()
	_, err = st.s.powerAs(ctx, in, action, func(e store.AuditEntry) { st.record(ctx, sc, e) })
	return err
}

// Backup starts a backup of the instance, named name (the task's payload;
// empty takes the default name), as the backups endpoint does: it counts
// against the instance's backupLimit. The run goes on once the node has
// started the archive; the backup's end is the follower's to record.
func (st scheduleTasks) Backup(ctx context.Context, sc schedule.Schedule, name string) error {
	in, err := st.instance(ctx, sc)
	if err != nil {
		return err
	}
	b, err := st.s.StartBackup(ctx, in, name)
	if err != nil {
		return err
	}
	st.record(ctx, sc, store.AuditEntry{Action: "instance.backup.create", Target: in.ID, Detail: b.Name})
	return nil
}

// Record writes a run's result to the activity log.
func (st scheduleTasks) Record(ctx context.Context, sc schedule.Schedule, result string) {
	st.record(ctx, sc, store.AuditEntry{Action: "instance.schedule.result", Target: sc.ID, Detail: result})
}

// record appends e to the activity log as sc's doing: the actor is the
// schedule, by its id, and the detail starts with "schedule <name>".
func (st scheduleTasks) record(ctx context.Context, sc schedule.Schedule, e store.AuditEntry) {
	e.ActorKind, e.CredentialID, e.InstanceID, e.At = scheduleActorKind, sc.ID, sc.InstanceID, time.Now()
	actor := "schedule " + sc.Name
	if e.Detail == "" {
		e.Detail = actor
	} else {
		e.Detail = actor + ": " + e.Detail
	}
	if err := st.s.store.RecordAudit(ctx, e); err != nil {
		st.s.log.Error("schedules: record activity", "schedule", sc.ID, "err", err)
	}
}

// scheduleRouteDocs documents the schedules' routes, the client's and the
// admin keys'.
func scheduleRouteDocs() []routeDoc {
	const (
		ok        = http.StatusOK
		created   = http.StatusCreated
		accepted  = http.StatusAccepted
		noContent = http.StatusNoContent
		notFound  = http.StatusNotFound
		conflict  = http.StatusConflict
	)
	var docs []routeDoc
	for _, base := range []struct {
		prefix, what string
		auth         audience
		see, change  []int
	}{
		{"/api/client/instances/{id}/schedules", " (schedules)", user, []int{notFound}, []int{notFound, conflict}},
		{"/api/instances/schedules/{id}", "", admin, []int{notFound}, []int{notFound, conflict}},
	} {
		one := base.prefix + "/{scheduleId}"
		docs = append(docs,
			routeDoc{pattern: "GET " + base.prefix, summary: "The instance's schedules" + base.what, auth: base.auth,
				answers: map[int]any{ok: []scheduleView{}}, errors: base.see},
			routeDoc{pattern: "POST " + base.prefix, summary: "Create a schedule; 409 past 50" + base.what, auth: base.auth,
				body: scheduleBody{}, answers: map[int]any{created: scheduleView{}}, errors: base.change},
			routeDoc{pattern: "GET " + one, summary: "One schedule" + base.what, auth: base.auth,
				answers: map[int]any{ok: scheduleView{}}, errors: base.see},
			routeDoc{pattern: "PUT " + one, summary: "Replace a schedule; its next run follows the new rules" + base.what, auth: base.auth,
				body: scheduleBody{}, answers: map[int]any{ok: scheduleView{}}, errors: base.change},
			routeDoc{pattern: "PATCH " + one, summary: "Change the fields sent, such as enabled" + base.what, auth: base.auth,
				body: scheduleBody{}, answers: map[int]any{ok: scheduleView{}}, errors: base.change},
			routeDoc{pattern: "DELETE " + one, summary: "Delete a schedule" + base.what, auth: base.auth,
				answers: map[int]any{noContent: nil}, errors: base.change},
			routeDoc{pattern: "POST " + one + "/run", summary: "Run a schedule now; 409 for an onlyWhenOnline schedule of an instance not running" + base.what,
				auth: base.auth, answers: map[int]any{accepted: scheduleView{}}, errors: base.change},
		)
	}
	return docs
}
