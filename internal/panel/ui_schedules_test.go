package panel_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestSchedulesPageListsSchedulesWithTheirNextRunInTheirZone checks the
// schedules tab: each schedule with its next run on its own clock and as a
// time the viewer's browser shows in its own, its last result, and the
// buttons and forms that call the client API; a reader without
// "schedules" has no tab and gets 403, a stranger 404.
func TestSchedulesPageListsSchedulesWithTheirNextRunInTheirZone(t *testing.T) {
	d := newDataPages(t)
	d.expect(200, "PATCH", "/api/instances/"+d.id, map[string]any{"backupLimit": 0})
	base := "/api/client/instances/" + d.id + "/schedules"
	sid := d.expectAs(201, "owner", "POST", base, map[string]any{"name": "Nightly <restart>", "cron": "30 4 * * *",
		"timezone": "Asia/Tokyo", "tasks": []map[string]any{
			{"action": "command", "payload": "say bye"}, {"action": "power", "payload": "restart", "offsetSeconds": 30}}}).object(t)["id"].(string)
	off := d.expectAs(201, "owner", "POST", base, map[string]any{"name": "off", "cron": "0 0 * * *", "enabled": false,
		"tasks": []map[string]any{{"action": "backup"}}}).object(t)["id"].(string)
	d.expectAs(202, "owner", "POST", base+"/"+off+"/run", nil)
	d.waitForResult("owner", base+"/"+off)

	page := d.pageAs(200, "owner", "/instances/"+d.id+"/schedules", "<h1>", `href="/instances/`+d.id+`/schedules">Schedules<`,
		"Nightly &lt;restart&gt;", "Asia/Tokyo", " JST", `<time datetime="`,
		`data-call="POST `+base+`/`+sid+`/run"`, `data-call="PATCH `+base+`/`+sid+`"`, `data-call="DELETE `+base+`/`+sid+`"`,
		`data-api="PUT `+base+`/`+sid+`"`, `data-api="POST `+base+`"`, `name="tasks[1].offsetSeconds"`, `value="restart"`,
		"none while disabled", "failed: task 1 (backup): backupLimit: the instance holds 0 backup(s) of its 0; delete one first", `<template id="task-row">`,
		"/static/schedules.")
	without(t, "the schedules page", page, "Nightly <restart>", `class="soon" title="Coming soon">Schedules`)
	// Every input has a label.
	for _, m := range regexp.MustCompile(`<(?:input|select)[^>]* id="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `for="`+m[1]+`"`) {
			t.Errorf("input %s has no label", m[1])
		}
	}
	if strings.Contains(page, "<fieldset class=\"plain\" disabled") {
		t.Error("the owner's forms are disabled")
	}

	reader := d.pageAs(200, "reader", "/instances/"+d.id+"/files")
	without(t, "a reader's tabs", reader, `/schedules"`)
	d.pageAs(403, "reader", "/instances/"+d.id+"/schedules")
	d.pageAs(404, "stranger", "/instances/"+d.id+"/schedules", "Not found")
	d.expectSignInRedirect("/instances/" + d.id + "/schedules")

	// A suspended instance's schedules are shown, their controls disabled.
	d.expect(200, "POST", "/api/instances/suspend/"+d.id, nil)
	suspended := d.pageAs(200, "owner", "/instances/"+d.id+"/schedules", "can be read, not changed or run", "Nightly")
	if n := strings.Count(suspended, `<fieldset class="plain" disabled`); n != 3 {
		t.Errorf("%d disabled forms on a suspended instance's page, want 3", n)
	}
	if !regexp.MustCompile(`data-call="POST [^"]+/run" data-then="reload" data-done="Run started" disabled`).MatchString(suspended) {
		t.Error("Run now is not disabled on a suspended instance")
	}
}
