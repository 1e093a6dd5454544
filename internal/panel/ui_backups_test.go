package panel_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
)

func TestBackupsPageShowsTheListTheLimitAndWhatMayBeDone(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	done := b.create("before <update>")
	b.stub.complete(done)
	if _, err := dispatchComplete(b, done); err != nil {
		t.Fatal(err)
	}
	b.expect(200, "POST", b.admin("/"+done+"/lock"), nil)
	failed := b.create("nightly")
	b.stub.set(failed, func(st *nodeapi.BackupStatus) { st.State, st.Error = nodeapi.BackupFailed, "disk full" })
	if _, err := dispatchComplete(b, failed); err != nil {
		t.Fatal(err)
	}
	b.create("running now")
	friend, helper := b.user("friend", false), b.user("helper", false)
	b.grant(b.id, friend, access.Backups)
	b.grant(b.id, helper, access.FilesRead)
	for _, who := range []string{"owner", "friend", "helper"} {
		b.sessionFor(who, who)
	}
	b.user("stranger", false)
	b.sessionFor("stranger", "stranger")
	path := "/instances/" + b.id + "/backups"
	api := "/api/client/instances/" + b.id + "/backups"

	body := b.expectPage(200, b.callers["friend"].cookie, path,
		"2 of 3 backups", "before &lt;update&gt;", "disk full", "Creating…", "36 B",
		api+"/"+done+"/download", "POST "+api+"/"+done+"/unlock", "POST "+api+"/"+done+"/restore",
		"DELETE "+api+"/"+failed, "data-busy", `name="truncate"`, "/static/backups.")
	if strings.Contains(body, "DELETE "+api+"/"+done) {
		t.Error("a locked backup offers Delete")
	}
	if !strings.Contains(b.expectPage(200, b.callers["owner"].cookie, "/instances/"+b.id), `href="/instances/`+b.id+`/backups"`) {
		t.Error("the instance's tabs do not link the backups page")
	}
	if strings.Contains(body, "PATCH /api/instances/") {
		t.Error("a user who is no admin is offered the backup limit")
	}
	b.user("root", true)
	b.sessionFor("root", "root")
	b.expectPage(200, b.callers["root"].cookie, path, "PATCH /api/instances/"+b.id, `name="backupLimit"`, `value="3"`)
	b.expectPage(200, b.callers["root"].cookie, "/admin/deploy", `name="backupLimit"`)
	b.expectPage(403, b.callers["helper"].cookie, path)
	b.expectPage(404, b.callers["stranger"].cookie, path)

	// A suspended instance's backups are shown, with every change off.
	b.expect(200, "POST", "/api/instances/suspend/"+b.id, nil)
	body = b.expectPage(200, b.callers["owner"].cookie, path, "suspended", api+"/"+done+"/download")
	if strings.Count(body, "disabled") < 4 {
		t.Errorf("a suspended instance's backups page leaves its changes enabled")
	}
}
