// Package schedule is the cron of Berth's panel: a schedule's five-field
// expression evaluated in its own time zone, its ordered tasks, and the
// Runner that claims due schedules from the database so that, with one
// panel or several, each run happens exactly once.
package schedule

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/berth-dev/berth/internal/fault"
)

// Schedule is one instance's schedule as the store keeps it.
type Schedule struct {
	ID             string
	InstanceID     string
	Name           string
	Cron           string
	Timezone       string
	Enabled        bool
	OnlyWhenOnline bool
	Tasks          []Task
	// NextRunAt is when the runner takes it next; zero for a disabled
	// schedule.
	NextRunAt time.Time
	// LastRunAt and LastResult tell of the last run that finished; zero
	// and empty before the first.
	LastRunAt  time.Time
	LastResult string
	CreatedAt  time.Time
}

// Task is one step of a run, taken Offset after the run began.
type Task struct {
	// Action is ActionCommand, ActionPower or ActionBackup.
	Action string `json:"action"`
	// Payload is the command line, or the power action; a backup's is its
	// name, optional.
	Payload string `json:"payload"`
	// OffsetSeconds is the task's delay from the start of the run.
	OffsetSeconds int `json:"offsetSeconds"`
}

// The actions of a task.
const (
	ActionCommand = "command"
	ActionPower   = "power"
	ActionBackup  = "backup"
)

// Bounds of what a schedule may hold.
const (
	// MaxTasks caps a schedule's tasks.
	MaxTasks = 20
	// MaxOffset caps a task's offset: a run lasts a quarter of an hour at
	// most, so a panel's shutdown never waits on one for long and a run
	// never overlaps the next of a schedule every few minutes by much.
	MaxOffset = 900
	// MaxPayload caps a payload, as the console caps a command.
	MaxPayload = 4096
	// MaxNameBytes caps a schedule's name.
	MaxNameBytes = 100
)

// Spec is a parsed cron expression and the zone it is read in.
type Spec struct {
	sched *cron.SpecSchedule
	// onceADay is set when the hour field names hours rather than every
	// hour (see Next).
	onceADay bool
}

// Parse reads a five-field cron expression (minute, hour, day of month,
// month, day of week) in the IANA zone named by zone, "" meaning UTC. An
// error names the field at fault: "cron" or "timezone".
func Parse(expr, zone string) (Spec, error) {
	if zone == "" {
		zone = "UTC"
	}
	// LoadLocation also takes "Local" and paths; only names in the zone
	// database make sense on a panel whose machine may change.
	if zone == "Local" || strings.ContainsAny(zone, `\.`) || strings.HasPrefix(zone, "/") || len(zone) > 64 {
		return Spec{}, fault.InvalidField("timezone", "must be an IANA time zone such as Europe/Berlin or UTC")
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return Spec{}, fault.InvalidField("timezone", "must be an IANA time zone such as Europe/Berlin or UTC")
	}
	fields := strings.Fields(expr)
	// ParseStandard also takes descriptors (@daily, @every 1h) and a
	// CRON_TZ= prefix; a schedule has five fields and its zone apart.
	if len(fields) != 5 || len(expr) > 200 {
		return Spec{}, fault.InvalidField("cron", "must have five fields: minute hour day-of-month month day-of-week, such as \"30 4 * * *\"")
	}
	parsed, err := cron.ParseStandard(strings.Join(fields, " "))
	if err != nil {
		return Spec{}, fault.InvalidField("cron", "%s", err.Error())
	}
	sched, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return Spec{}, fault.InvalidField("cron", "must have five fields")
	}
	sched.Location = loc
	return Spec{sched: sched, onceADay: !strings.Contains(fields[1], "*")}, nil
}

// Next returns the first time after after that the spec names, in UTC, or
// the zero time when it names none in the next five years (February 30th).
//
// Around a change of clocks it does what cron does. A time that the
// spring-forward gap skips (02:30 in Berlin or New York on that night)
// does not happen, so a daily job at that time does not run that day.
// When clocks fall back, an hour happens twice: a job with set hours runs
// at the first of the two, not again at the second (the library alone
// would run it twice), while a job of every hour follows real time and
// runs in both.
func (s Spec) Next(after time.Time) time.Time {
	next := s.sched.Next(after)
	if s.onceADay {
		for !next.IsZero() && !wallClockAfter(next, after, s.sched.Location) {
			next = s.sched.Next(next)
		}
	}
	return next.UTC()
}

// wallClockAfter reports whether a's reading on a clock of loc is later
// than b's: false for the second pass of the hour clocks fall back through.
func wallClockAfter(a, b time.Time, loc *time.Location) bool {
	wall := func(t time.Time) time.Time {
		t = t.In(loc)
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	return wall(a).After(wall(b))
}

// Validate checks a schedule's fields as a request gives them and returns
// its spec. Errors name the field: "name", "cron", "timezone", or
// "tasks[i].action" and the like.
func Validate(s Schedule) (Spec, error) {
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > MaxNameBytes || !utf8.ValidString(s.Name) ||
		strings.ContainsFunc(s.Name, isControl) {
		return Spec{}, fault.InvalidField("name", "must be 1 to %d bytes of text on one line", MaxNameBytes)
	}
	spec, err := Parse(s.Cron, s.Timezone)
	if err != nil {
		return spec, err
	}
	return spec, ValidateTasks(s.Tasks)
}

// ValidateTasks checks a run's tasks: one to MaxTasks, each a known action
// with a payload it takes, offsets from 0 to MaxOffset that never go back.
func ValidateTasks(tasks []Task) error {
	if len(tasks) == 0 || len(tasks) > MaxTasks {
		return fault.InvalidField("tasks", "must list 1 to %d tasks", MaxTasks)
	}
	prev := 0
	for i, t := range tasks {
		field := func(name string) string { return "tasks[" + strconv.Itoa(i) + "]." + name }
		switch t.Action {
		case ActionCommand:
			if strings.TrimSpace(t.Payload) == "" || len(t.Payload) > MaxPayload || !utf8.ValidString(t.Payload) ||
				strings.ContainsFunc(t.Payload, func(r rune) bool { return isControl(r) && r != '\t' }) {
				return fault.InvalidField(field("payload"), "must be a command of 1 to %d bytes on one line", MaxPayload)
			}
		case ActionPower:
			switch t.Payload {
			case "start", "stop", "restart", "kill":
			default:
				return fault.InvalidField(field("payload"), "must be start, stop, restart or kill")
			}
		case ActionBackup:
			if len(t.Payload) > MaxNameBytes || !utf8.ValidString(t.Payload) || strings.ContainsFunc(t.Payload, isControl) {
				return fault.InvalidField(field("payload"), "must be empty or a backup name of at most %d bytes", MaxNameBytes)
			}
		default:
			return fault.InvalidField(field("action"), "must be command, power or backup")
		}
		switch {
		case t.OffsetSeconds < 0 || t.OffsetSeconds > MaxOffset:
			return fault.InvalidField(field("offsetSeconds"), "must be from 0 to %d", MaxOffset)
		case t.OffsetSeconds < prev:
			return fault.InvalidField(field("offsetSeconds"), "must not be less than the task before it (%d)", prev)
		}
		prev = t.OffsetSeconds
	}
	return nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }
