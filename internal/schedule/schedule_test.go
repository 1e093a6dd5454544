package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// runsBetween lists the runs of cron in zone from from to to, following
// Next as the runner does: each next run is the first after the last.
func runsBetween(t *testing.T, cron, zone string, from, to time.Time) []time.Time {
	t.Helper()
	spec, err := Parse(cron, zone)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", cron, zone, err)
	}
	var runs []time.Time
	for at := spec.Next(from); !at.IsZero() && at.Before(to); at = spec.Next(at) {
		runs = append(runs, at)
	}
	return runs
}

// TestDailyJobAcrossDaylightSavingChanges checks a daily job in the hour
// that clocks change through: on the night clocks fall back it runs once,
// at the first pass of that hour; on the night they spring forward the
// time does not exist and the job does not run that day (robfig/cron's
// behaviour, which Berth keeps); every other day it runs once at its wall
// time.
func TestDailyJobAcrossDaylightSavingChanges(t *testing.T) {
	cases := []struct {
		name, zone, cron string
		day              time.Time // the day of the change, in UTC
		runsOnDay        int
		// firstUTC is the run on the day of the change, when there is one.
		firstUTC time.Time
	}{
		{"Berlin falls back through 02:00-03:00", "Europe/Berlin", "30 2 * * *",
			time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), 1, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"Berlin springs over 02:00-03:00", "Europe/Berlin", "30 2 * * *",
			time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), 0, time.Time{}},
		{"New York falls back through 01:00-02:00", "America/New_York", "30 1 * * *",
			time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 1, time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
		{"New York springs over 02:00-03:00", "America/New_York", "30 2 * * *",
			time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), 0, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc, _ := time.LoadLocation(c.zone)
			// Three local days each side of the change.
			from, to := c.day.AddDate(0, 0, -3), c.day.AddDate(0, 0, 4)
			runs := runsBetween(t, c.cron, c.zone, from, to)
			perDay := map[string]int{}
			for _, r := range runs {
				perDay[r.In(loc).Format(time.DateOnly)]++
			}
			changeDay := c.day.Format(time.DateOnly)
			for d := from.AddDate(0, 0, 1); d.Before(to.AddDate(0, 0, -1)); d = d.AddDate(0, 0, 1) {
				day := d.Format(time.DateOnly)
				want := 1
				if day == changeDay {
					want = c.runsOnDay
				}
				if perDay[day] != want {
					t.Errorf("%s: %d runs, want %d (runs %v)", day, perDay[day], want, runs)
				}
			}
			for _, r := range runs {
				if r.In(loc).Format(time.DateOnly) == changeDay && !r.Equal(c.firstUTC) {
					t.Errorf("the run on the day of the change is at %v, want %v", r, c.firstUTC)
				}
			}
		})
	}
}

// TestHourlyJobFollowsRealTimeWhenClocksFallBack checks that a job of every
// hour keeps running each real hour through the repeated one.
func TestHourlyJobFollowsRealTimeWhenClocksFallBack(t *testing.T) {
	from := time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC)
	runs := runsBetween(t, "0 * * * *", "Europe/Berlin", from, from.Add(6*time.Hour))
	if len(runs) != 5 {
		t.Errorf("runs in 6 real hours: %v, want one each hour", runs)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].Sub(runs[i-1]) != time.Hour {
			t.Errorf("runs %v and %v are not an hour apart", runs[i-1], runs[i])
		}
	}
}

// TestNextIsInTheSchedulesZone checks that the cron is read in the zone.
func TestNextIsInTheSchedulesZone(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		zone string
		want time.Time
	}{
		{"", time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC)},
		{"UTC", time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 6, 2, 8, 0, 0, 0, time.UTC)},
		{"Asia/Kolkata", time.Date(2026, 6, 1, 22, 30, 0, 0, time.UTC)},
	} {
		spec, err := Parse("0 4 * * *", c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.Next(now); !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("zone %q: next %v, want %v", c.zone, got, c.want)
		}
	}
}

// TestParseNamesTheFieldAtFault checks the errors of Parse.
func TestParseNamesTheFieldAtFault(t *testing.T) {
	for _, c := range []struct{ cron, zone, field string }{
		{"* * * *", "UTC", "cron"},
		{"* * * * * *", "UTC", "cron"},
		{"@daily", "UTC", "cron"},
		{"@every 1h", "UTC", "cron"},
		{"CRON_TZ=UTC * * * *", "UTC", "cron"},
		{"61 * * * *", "UTC", "cron"},
		{"* 25 * * *", "UTC", "cron"},
		{"x * * * *", "UTC", "cron"},
		{"0 4 * * *", "Mars/Olympus", "timezone"},
		{"0 4 * * *", "Local", "timezone"},
		{"0 4 * * *", "../../etc/passwd", "timezone"},
		{"0 4 * * *", "/usr/share/zoneinfo/UTC", "timezone"},
		{"", "UTC", "cron"},
	} {
		_, err := Parse(c.cron, c.zone)
		var fe *fault.Error
		if err == nil || !fault.Is(err, fault.Invalid) || !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("Parse(%q, %q) = %v, want an invalid %s", c.cron, c.zone, err, c.field)
		}
	}
	for _, ok := range []string{"*/5 * * * *", "0 4 * * 1-5", "30 2 1 1 *", "0 0 * * SUN", "0 12 * JAN,JUL *"} {
		if _, err := Parse(ok, "Europe/Berlin"); err != nil {
			t.Errorf("Parse(%q) = %v, want it accepted", ok, err)
		}
	}
}

// TestValidateTasks checks the rules of a run's tasks, with the field each
// broken one names.
func TestValidateTasks(t *testing.T) {
	cmd := func(p string, off int) Task { return Task{Action: ActionCommand, Payload: p, OffsetSeconds: off} }
	pow := func(p string, off int) Task { return Task{Action: ActionPower, Payload: p, OffsetSeconds: off} }
	many := make([]Task, MaxTasks+1)
	for i := range many {
		many[i] = cmd("say hi", 0)
	}
	cases := []struct {
		name  string
		tasks []Task
		field string // "" when valid
	}{
		{"a restart with a warning", []Task{cmd("say restarting in 60s", 0), pow("restart", 60)}, ""},
		{"a backup", []Task{{Action: ActionBackup}}, ""},
		{"the longest offset", []Task{cmd("say hi", MaxOffset)}, ""},
		{"equal offsets", []Task{cmd("a", 5), cmd("b", 5)}, ""},
		{"no task", nil, "tasks"},
		{"too many", many, "tasks"},
		{"unknown action", []Task{{Action: "reboot"}}, "tasks[0].action"},
		{"empty command", []Task{cmd(" ", 0)}, "tasks[0].payload"},
		{"two lines", []Task{cmd("a\nb", 0)}, "tasks[0].payload"},
		{"long command", []Task{cmd(strings.Repeat("x", MaxPayload+1), 0)}, "tasks[0].payload"},
		{"bad power", []Task{cmd("a", 0), pow("reboot", 0)}, "tasks[1].payload"},
		{"negative offset", []Task{cmd("a", -1)}, "tasks[0].offsetSeconds"},
		{"offset too long", []Task{cmd("a", MaxOffset+1)}, "tasks[0].offsetSeconds"},
		{"offset going back", []Task{cmd("a", 30), cmd("b", 10)}, "tasks[1].offsetSeconds"},
	}
	for _, c := range cases {
		err := ValidateTasks(c.tasks)
		var fe *fault.Error
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field || fe.Kind != fault.Invalid):
			t.Errorf("%s: %v, want invalid %s", c.name, err, c.field)
		}
	}
}

// TestValidateChecksTheName checks Validate's name rule before the rest.
func TestValidateChecksTheName(t *testing.T) {
	good := Schedule{Name: "nightly", Cron: "0 4 * * *", Tasks: []Task{{Action: ActionPower, Payload: "restart"}}}
	if _, err := Validate(good); err != nil {
		t.Fatalf("Validate(%+v) = %v", good, err)
	}
	for _, name := range []string{"", "  ", "a\nb", strings.Repeat("n", MaxNameBytes+1)} {
		s := good
		s.Name = name
		var fe *fault.Error
		if _, err := Validate(s); !errors.As(err, &fe) || fe.Field != "name" {
			t.Errorf("name %q: %v, want invalid name", name, err)
		}
	}
}
