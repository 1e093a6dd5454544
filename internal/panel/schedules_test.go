package panel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/panel"
)

// schedulePanel is a client panel on a test clock with a running instance
// of owner, signed in as "owner".
func schedulePanel(t *testing.T) (*clientPanel, *testClock, string) {
	t.Helper()
	p, clock := newClockPanel(t, panel.Config{})
	c := newClientPanelOn(t, p)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	return c, clock, id
}

// waitForResult polls a schedule until its run has a result, not
// "running", and returns the schedule.
func (c *clientPanel) waitForResult(as, path string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(failBound)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		m := c.expectAs(200, as, "GET", path, nil).object(c.t)
		if m["lastResult"] != "" && m["lastResult"] != "running" {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no result of the run of %s: %v", path, m)
		}
		<-tick.C
	}
}

// TestScheduleLifecycleThroughTheClientAPI creates, reads, changes and
// deletes a schedule as its instance's owner, and checks the next run is
// read in the schedule's zone from the panel's clock.
func TestScheduleLifecycleThroughTheClientAPI(t *testing.T) {
	c, clock, id := schedulePanel(t)
	base := "/api/client/instances/" + id + "/schedules"
	// The clock reads 2030-01-02 03:04 UTC: 04:04 in Berlin.
	m := c.expectAs(201, "owner", "POST", base, map[string]any{
		"name": "nightly restart", "cron": "30 4 * * *", "timezone": "Europe/Berlin", "onlyWhenOnline": true,
		"tasks": []map[string]any{
			{"action": "command", "payload": "say restarting in a minute"},
			{"action": "power", "payload": "restart", "offsetSeconds": 60},
		}}).object(t)
	hasKeys(t, "schedule", m, "id", "name", "cron", "timezone", "enabled", "onlyWhenOnline", "tasks", "nextRunAt",
		"lastRunAt", "lastResult", "createdAt")
	sid, _ := m["id"].(string)
	if m["nextRunAt"] != "2030-01-02T03:30:00Z" || m["enabled"] != true || m["onlyWhenOnline"] != true ||
		m["lastRunAt"] != nil || m["lastResult"] != "" || m["timezone"] != "Europe/Berlin" {
		t.Errorf("created %v; want enabled, next run 04:30 Berlin (03:30Z), no run yet", m)
	}
	if tasks, _ := m["tasks"].([]any); len(tasks) != 2 {
		t.Errorf("tasks %v, want the two sent", m["tasks"])
	}
	// Without a zone, UTC; enabled unless said otherwise.
	clock.advance(time.Minute)
	utc := c.expectAs(201, "owner", "POST", base, map[string]any{"name": "utc", "cron": "0 12 * * *", "enabled": false,
		"tasks": []map[string]any{{"action": "backup"}}}).object(t)
	if utc["timezone"] != "UTC" || utc["enabled"] != false || utc["nextRunAt"] != nil {
		t.Errorf("a disabled schedule without a zone: %v; want UTC, no next run", utc)
	}
	if list := c.expectAs(200, "owner", "GET", base, nil).array(t); len(list) != 2 || list[0]["id"] != sid {
		t.Errorf("list %v, want the two, oldest first", list)
	}

	one := base + "/" + sid
	clock.advance(time.Hour) // 05:04 in Berlin: today's run is past.
	m = c.expectAs(200, "owner", "PATCH", one, map[string]any{"enabled": false}).object(t)
	if m["enabled"] != false || m["nextRunAt"] != nil || m["name"] != "nightly restart" {
		t.Errorf("disabled: %v", m)
	}
	m = c.expectAs(200, "owner", "PATCH", one, map[string]any{"enabled": true}).object(t)
	if m["nextRunAt"] != "2030-01-03T03:30:00Z" {
		t.Errorf("enabled again: next run %v, want tomorrow's, 2030-01-03T03:30:00Z", m["nextRunAt"])
	}
	m = c.expectAs(200, "owner", "PUT", one, map[string]any{"name": "weekly", "cron": "0 6 * * 1", "timezone": "America/New_York",
		"tasks": []map[string]any{{"action": "power", "payload": "stop"}}}).object(t)
	// Thursday 2030-01-03 is the day after; the first Monday is 01-07.
	if m["name"] != "weekly" || m["nextRunAt"] != "2030-01-07T11:00:00Z" || m["onlyWhenOnline"] != true {
		t.Errorf("replaced: %v; want weekly, next Monday 06:00 New York, flags kept", m)
	}
	if got := c.expectAs(200, "owner", "GET", one, nil).object(t); got["name"] != "weekly" || got["cron"] != "0 6 * * 1" {
		t.Errorf("read back %v", got)
	}
	c.expectAs(204, "owner", "DELETE", one, nil)
	c.expectAs(404, "owner", "GET", one, nil)
	c.expectAs(404, "owner", "DELETE", one, nil)

	var actions []string
	for _, e := range c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/activity?action=instance.schedule", nil).object(t)["data"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	want := []string{"instance.schedule.delete", "instance.schedule.update", "instance.schedule.update",
		"instance.schedule.update", "instance.schedule.create", "instance.schedule.create"}
	if !slices.Equal(actions, want) {
		t.Errorf("activity %q, want %q", actions, want)
	}
}

// TestScheduleValidationNamesTheField sends broken schedules: each gets a
// 400 whose message starts with the field at fault, and nothing is stored.
func TestScheduleValidationNamesTheField(t *testing.T) {
	c, _, id := schedulePanel(t)
	base := "/api/client/instances/" + id + "/schedules"
	task := map[string]any{"action": "command", "payload": "say hi"}
	good := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "n", "cron": "* * * * *", "timezone": "UTC", "tasks": []any{task}}
		change(m)
		return m
	}
	many := make([]any, 21)
	for i := range many {
		many[i] = task
	}
	cases := []struct {
		body  any
		field string
	}{
		{good(func(m map[string]any) { delete(m, "name") }), "name"},
		{good(func(m map[string]any) { m["name"] = strings.Repeat("n", 101) }), "name"},
		{good(func(m map[string]any) { delete(m, "cron") }), "cron"},
		{good(func(m map[string]any) { m["cron"] = "* * * *" }), "cron"},
		{good(func(m map[string]any) { m["cron"] = "@daily" }), "cron"},
		{good(func(m map[string]any) { m["cron"] = "99 * * * *" }), "cron"},
		{good(func(m map[string]any) { m["timezone"] = "Mars/Olympus" }), "timezone"},
		{good(func(m map[string]any) { m["timezone"] = "Local" }), "timezone"},
		{good(func(m map[string]any) { m["enabled"] = "maybe" }), "enabled"},
		{good(func(m map[string]any) { m["onlyWhenOnline"] = 3 }), "onlyWhenOnline"},
		{good(func(m map[string]any) { delete(m, "tasks") }), "tasks"},
		{good(func(m map[string]any) { m["tasks"] = []any{} }), "tasks"},
		{good(func(m map[string]any) { m["tasks"] = many }), "tasks"},
		{good(func(m map[string]any) { m["tasks"] = "say hi" }), "tasks"},
		{good(func(m map[string]any) { m["tasks"] = []any{"say hi"} }), "tasks[0]"},
		{good(func(m map[string]any) { m["tasks"] = []any{task, map[string]any{"action": "reboot"}} }), "tasks[1].action"},
		{good(func(m map[string]any) { m["tasks"] = []any{map[string]any{"payload": "x"}} }), "tasks[0].action"},
		{good(func(m map[string]any) { m["tasks"] = []any{map[string]any{"action": "command"}} }), "tasks[0].payload"},
		{good(func(m map[string]any) {
			m["tasks"] = []any{map[string]any{"action": "command", "payload": strings.Repeat("x", 4097)}}
		}), "tasks[0].payload"},
		{good(func(m map[string]any) { m["tasks"] = []any{map[string]any{"action": "power", "payload": "reboot"}} }), "tasks[0].payload"},
		{good(func(m map[string]any) {
			m["tasks"] = []any{map[string]any{"action": "power", "payload": "stop", "offsetSeconds": 901}}
		}), "tasks[0].offsetSeconds"},
		{good(func(m map[string]any) {
			m["tasks"] = []any{map[string]any{"action": "power", "payload": "stop", "offsetSeconds": -1}}
		}), "tasks[0].offsetSeconds"},
		{good(func(m map[string]any) {
			m["tasks"] = []any{map[string]any{"action": "power", "payload": "stop", "offsetSeconds": 1.5}}
		}), "tasks[0].offsetSeconds"},
		{good(func(m map[string]any) {
			m["tasks"] = []any{map[string]any{"action": "command", "payload": "a", "offsetSeconds": 30}, task}
		}), "tasks[1].offsetSeconds"},
		{"[1, 2]", "body"},
	}
	for _, tc := range cases {
		r := c.do(clientRequest{method: "POST", path: base, as: "owner", body: tc.body})
		if r.code != 400 {
			t.Errorf("%v: %d %s, want 400", tc.body, r.code, r.body)
			continue
		}
		if msg := r.errorMessage(t); !strings.HasPrefix(msg, tc.field+": ") {
			t.Errorf("%v: %q, want a message about %s", tc.body, msg, tc.field)
		}
	}
	if list := c.expectAs(200, "owner", "GET", base, nil).array(t); len(list) != 0 {
		t.Errorf("refused schedules were stored: %v", list)
	}
	// A PATCH is checked the same way, and changes nothing when refused.
	sid := c.expectAs(201, "owner", "POST", base, good(func(map[string]any) {})).object(t)["id"].(string)
	r := c.do(clientRequest{method: "PATCH", path: base + "/" + sid, as: "owner", body: map[string]any{"cron": "nope", "name": "x"}})
	if r.code != 400 || !strings.HasPrefix(r.errorMessage(t), "cron: ") {
		t.Errorf("PATCH with a bad cron: %d %s", r.code, r.body)
	}
	if got := c.expectAs(200, "owner", "GET", base+"/"+sid, nil).object(t); got["name"] != "n" || got["cron"] != "* * * * *" {
		t.Errorf("a refused PATCH changed the schedule: %v", got)
	}
}

// TestScheduleRunNowTypesOnTheConsoleAndRecordsTheSchedule runs a
// schedule now: its command reaches the game, its power action goes
// through the panel's power path, the backup task is held to the
// instance's backupLimit (0 here, so it fails and ends the run), and each
// step is in the activity log as the schedule's.
func TestScheduleRunNowTypesOnTheConsoleAndRecordsTheSchedule(t *testing.T) {
	c, _, id := schedulePanel(t)
	c.expect(200, "PATCH", "/api/instances/"+id, map[string]any{"backupLimit": 0})
	base := "/api/client/instances/" + id + "/schedules"
	sid := c.expectAs(201, "owner", "POST", base, map[string]any{"name": "announce", "cron": "0 4 * * *",
		"tasks": []map[string]any{
			{"action": "command", "payload": "say hello from a schedule"},
			{"action": "power", "payload": "restart"},
			{"action": "backup"},
			{"action": "command", "payload": "say never sent"},
		}}).object(t)["id"].(string)
	m := c.expectAs(202, "owner", "POST", base+"/"+sid+"/run", nil).object(t)
	if m["id"] != sid {
		t.Errorf("run answered %v, want the schedule", m)
	}
	m = c.waitForResult("owner", base+"/"+sid)
	if want := "failed: task 3 (backup): backupLimit: the instance holds 0 backup(s) of its 0; delete one first"; m["lastResult"] != want || m["lastRunAt"] == nil {
		t.Errorf("after the run: %v; want result %q", m, want)
	}
	state := c.nodeState(id)
	if !slices.Contains(state.stdin, "say hello from a schedule") || slices.Contains(state.stdin, "say never sent") {
		t.Errorf("the game got %q; want the first command and not the one after the failed task", state.stdin)
	}
	if restarts := c.node.Runtime.Calls("Stop") + c.node.Runtime.Calls("Kill"); restarts == 0 || !state.running {
		t.Errorf("the restart did not happen through the node (%d stops), or the server is not running again (%v)", restarts, state.running)
	}

	type entry struct{ action, kind, credential, detail string }
	var got []entry
	for _, e := range c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/activity?limit=4", nil).object(t)["data"].([]any) {
		e := e.(map[string]any)
		actor := e["actor"].(map[string]any)
		cred, _ := actor["credentialId"].(string)
		got = append(got, entry{e["action"].(string), actor["kind"].(string), cred, e["detail"].(string)})
	}
	want := []entry{
		{"instance.schedule.result", "schedule", sid, "schedule announce: failed: task 3 (backup): backupLimit: the instance holds 0 backup(s) of its 0; delete one first"},
		{"instance.power.restart", "schedule", sid, "schedule announce"},
		{"instance.console.command", "schedule", sid, "schedule announce: say hello from a schedule"},
		{"instance.schedule.run", "session", "", "announce"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("activity\n%v\nwant\n%v", got, want)
	}
}

// TestScheduleRunNowOnlyWhenOnline checks the 409 of a run asked of an
// onlyWhenOnline schedule while its instance is stopped, and that the
// other schedules still run then.
func TestScheduleRunNowOnlyWhenOnline(t *testing.T) {
	c, _, id := schedulePanel(t)
	base := "/api/client/instances/" + id + "/schedules"
	online := c.expectAs(201, "owner", "POST", base, map[string]any{"name": "online", "cron": "0 4 * * *", "onlyWhenOnline": true,
		"tasks": []map[string]any{{"action": "command", "payload": "say hi"}}}).object(t)["id"].(string)
	always := c.expectAs(201, "owner", "POST", base, map[string]any{"name": "always", "cron": "0 4 * * *",
		"tasks": []map[string]any{{"action": "power", "payload": "start"}}}).object(t)["id"].(string)
	c.expect(200, "POST", "/api/instances/power/"+id, map[string]any{"action": "stop"})

	r := c.do(clientRequest{method: "POST", path: base + "/" + online + "/run", as: "owner"})
	if r.code != 409 || !strings.Contains(r.errorMessage(t), "only when the instance is running") {
		t.Errorf("run of an onlyWhenOnline schedule of a stopped instance: %d %s, want 409", r.code, r.body)
	}
	if m := c.expectAs(200, "owner", "GET", base+"/"+online, nil).object(t); m["lastRunAt"] != nil {
		t.Errorf("the refused run ran: %v", m)
	}
	c.expectAs(202, "owner", "POST", base+"/"+always+"/run", nil)
	if m := c.waitForResult("owner", base+"/"+always); m["lastResult"] != "ok" || !c.nodeState(id).running {
		t.Errorf("the run that starts the server: %v, running %v", m, c.nodeState(id).running)
	}
	c.expectAs(202, "owner", "POST", base+"/"+online+"/run", nil)
}

// TestSchedulePermissions checks who may see and change schedules beyond
// the matrix: a subuser's grant of "schedules" is what counts, and a
// schedule of another instance is not found through this one.
func TestSchedulePermissions(t *testing.T) {
	c, _, id := schedulePanel(t)
	other := c.readyInstanceOf(c.user("someone", false), "25566")
	friend := c.user("friend", false)
	c.grant(id, friend, access.ConsoleRead, access.Power)
	c.sessionFor("friend", "friend")
	base := "/api/client/instances/" + id + "/schedules"
	body := map[string]any{"name": "n", "cron": "0 4 * * *", "tasks": []map[string]any{{"action": "power", "payload": "restart"}}}
	c.expectAs(403, "friend", "GET", base, nil)
	c.expectAs(403, "friend", "POST", base, body)
	// A grant is replaced whole: power stays, for the schedule's restart.
	c.grant(id, friend, access.ConsoleRead, access.Power, access.Schedules)
	sid := c.expectAs(201, "friend", "POST", base, body).object(t)["id"].(string)
	c.expectAs(200, "friend", "GET", base+"/"+sid, nil)
	// Another instance's path does not reach this schedule, even for its
	// owner... who is a stranger to this one.
	c.sessionFor("someone", "someone")
	c.expectAs(404, "someone", "GET", "/api/client/instances/"+other+"/schedules/"+sid, nil)
	c.expectAs(404, "someone", "GET", base, nil)
	c.expectAs(404, "owner", "GET", "/api/client/instances/"+other+"/schedules", nil)
}

// TestAdminKeyManagesSchedules checks the admin API's schedule routes.
func TestAdminKeyManagesSchedules(t *testing.T) {
	c, _, id := schedulePanel(t)
	base := "/api/instances/schedules/" + id
	m := c.expect(201, "POST", base, map[string]any{"name": "by admin", "cron": "*/10 * * * *",
		"tasks": []map[string]any{{"action": "command", "payload": "say admin"}}}).object(t)
	sid := m["id"].(string)
	if list := c.expect(200, "GET", base, nil).array(t); len(list) != 1 || list[0]["name"] != "by admin" {
		t.Errorf("admin list %v", list)
	}
	c.expect(200, "PATCH", base+"/"+sid, map[string]any{"name": "renamed"})
	c.expect(200, "PUT", base+"/"+sid, map[string]any{"name": "again", "cron": "0 * * * *",
		"tasks": []map[string]any{{"action": "command", "payload": "say admin"}}})
	c.expect(202, "POST", base+"/"+sid+"/run", nil)
	waitUntil(t, "the admin's run reaches the game", func() bool {
		return slices.Contains(c.nodeState(id).stdin, "say admin")
	})
	c.expect(200, "GET", base+"/"+sid, nil)
	c.expect(404, "GET", "/api/instances/schedules/nope", nil)
	c.expect(404, "GET", base+"/nope", nil)
	c.expect(204, "DELETE", base+"/"+sid, nil)
	c.expect(404, "POST", base+"/"+sid+"/run", nil)
	// The client API takes no admin key.
	if r := c.do(clientRequest{method: "GET", path: "/api/client/instances/" + id + "/schedules", key: c.key}); r.code != 401 {
		t.Errorf("admin key on the client API: %d", r.code)
	}
}

// TestPanelRunsDueSchedules runs the panel's schedule runner on its clock:
// a schedule that fell due runs once, from the first tick.
func TestPanelRunsDueSchedules(t *testing.T) {
	c, clock, id := schedulePanel(t)
	base := "/api/client/instances/" + id + "/schedules"
	sid := c.expectAs(201, "owner", "POST", base, map[string]any{"name": "tick", "cron": "30 3 * * *",
		"tasks": []map[string]any{{"action": "command", "payload": "say due"}}}).object(t)["id"].(string)
	clock.advance(time.Hour) // 04:04: the 03:30 run is due.
	// A rename while it is due keeps it due.
	if m := c.expectAs(200, "owner", "PATCH", base+"/"+sid, map[string]any{"name": "renamed"}).object(t); m["nextRunAt"] != "2030-01-02T03:30:00Z" {
		t.Errorf("a rename moved the due run to %v", m["nextRunAt"])
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { c.server.RunSchedules(ctx) })
	m := c.waitForResult("owner", base+"/"+sid)
	stop()
	wg.Wait()
	if m["lastResult"] != "ok" || m["nextRunAt"] != "2030-01-03T03:30:00Z" || m["lastRunAt"] != "2030-01-02T04:04:00Z" {
		t.Errorf("after the due run: %v", m)
	}
	if n := strings.Count(strings.Join(c.nodeState(id).stdin, "\n"), "say due"); n != 1 {
		t.Errorf("the due command reached the game %d times, want once", n)
	}
}

// TestScheduleTasksTakeTheirOwnPermissions checks that a subuser holding
// "schedules" alone cannot have a schedule do what it was never granted:
// creating, replacing, changing or running one whose task types a command,
// runs a power action or makes a backup takes console.write, power or
// backups too, and the refusal names the task. The owner keeps everything.
func TestScheduleTasksTakeTheirOwnPermissions(t *testing.T) {
	c, _, id := schedulePanel(t)
	friend := c.user("friend", false)
	c.grant(id, friend, access.Schedules)
	c.sessionFor("friend", "friend")
	base := "/api/client/instances/" + id + "/schedules"
	body := func(tasks ...map[string]any) map[string]any {
		return map[string]any{"name": "n", "cron": "0 4 * * *", "tasks": tasks}
	}
	say := map[string]any{"action": "command", "payload": "say hi"}
	restart := map[string]any{"action": "power", "payload": "restart", "offsetSeconds": 5}
	backup := map[string]any{"action": "backup", "offsetSeconds": 10}
	refused := func(what string, r response, field, perm string) {
		t.Helper()
		if msg := r.errorMessage(t); r.code != 403 || !strings.HasPrefix(msg, field+": ") || !strings.Contains(msg, perm) {
			t.Errorf("%s: %d %s; want 403 about %s needing %s", what, r.code, r.body, field, perm)
		}
	}
	cases := []struct {
		tasks []map[string]any
		grant []access.Permission
		field string
		perm  string
	}{
		{[]map[string]any{say}, nil, "tasks[0].action", "console.write"},
		{[]map[string]any{say, restart}, []access.Permission{access.ConsoleWrite}, "tasks[1].action", "power"},
		{[]map[string]any{say, restart, backup}, []access.Permission{access.ConsoleWrite, access.Power}, "tasks[2].action", "backups"},
		{[]map[string]any{backup}, []access.Permission{access.Power}, "tasks[0].action", "backups"},
	}
	for _, tc := range cases {
		c.grant(id, friend, append([]access.Permission{access.Schedules}, tc.grant...)...)
		refused(fmt.Sprintf("create %v with %v", tc.tasks, tc.grant),
			c.do(clientRequest{method: "POST", path: base, as: "friend", body: body(tc.tasks...)}), tc.field, tc.perm)
	}
	if list := c.expectAs(200, "owner", "GET", base, nil).array(t); len(list) != 0 {
		t.Errorf("refused schedules were stored: %v", list)
	}

	// The owner's schedule restarts the server: the friend may neither
	// change it, even by name alone, nor run it, nor give it to itself by
	// a PUT; with power granted, all of it.
	sid := c.expectAs(201, "owner", "POST", base, body(restart)).object(t)["id"].(string)
	one := base + "/" + sid
	c.grant(id, friend, access.Schedules, access.ConsoleWrite)
	refused("PATCH a rename", c.do(clientRequest{method: "PATCH", path: one, as: "friend", body: map[string]any{"name": "mine"}}),
		"tasks[0].action", "power")
	refused("PUT", c.do(clientRequest{method: "PUT", path: one, as: "friend", body: body(say, restart)}), "tasks[1].action", "power")
	refused("run", c.do(clientRequest{method: "POST", path: one + "/run", as: "friend"}), "tasks[0].action", "power")
	if m := c.expectAs(200, "owner", "GET", one, nil).object(t); m["name"] != "n" || m["lastRunAt"] != nil {
		t.Errorf("refused changes or run reached the schedule: %v", m)
	}
	// A PUT to tasks the friend holds is its own to make.
	c.expectAs(200, "friend", "PUT", one, body(say))
	c.expectAs(200, "owner", "PUT", one, body(say, restart, backup))
	c.grant(id, friend, access.Schedules, access.ConsoleWrite, access.Power, access.Backups)
	c.expectAs(200, "friend", "PATCH", one, map[string]any{"name": "shared"})
	c.expectAs(201, "friend", "POST", base, body(say, restart, backup))
}
