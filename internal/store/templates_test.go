package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
)

// testDeployOfADeletedTemplate: a deploy that read its template before a
// DeleteTemplate committed fails on the foreign key; that is the caller's
// image gone, a 400 naming the field, not an internal error.
func testDeployOfADeletedTemplate(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	if err := st.CreateTemplate(ctx, store.Template{ID: "t", Name: "t", Doc: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTemplate(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	in := instance(t, "a", "u", "n", "80")
	in.TemplateID = "t"
	expectFault(t, "deploy of a deleted template", st.CreateInstance(ctx, in), fault.Invalid, "image")
}

// testDeleteTemplateRacingADeploy: a deploy of a template has inserted its
// instance but not committed when DeleteTemplate runs. On PostgreSQL the
// delete cannot see the instance, waits for the deploy's transaction, and
// then breaks the foreign key: that is the template in use, a Conflict,
// not an internal error. (SQLite runs one writer at a time, so there the
// delete comes wholly before or after the deploy.)
func testDeleteTemplateRacingADeploy(t *testing.T, db database) {
	st := db(t)
	if !st.Postgres() {
		t.Skip("SQLite serializes writers: a delete cannot overlap a deploy")
	}
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	if err := st.CreateTemplate(ctx, store.Template{ID: "t", Name: "t", Doc: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deploy, err := store.BeginRaw(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer deploy.Rollback()
	var deployPID int
	if err := deploy.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&deployPID); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.ExecContext(ctx, store.Q(st, `INSERT INTO instances (id, name, user_id, node_id, template_id, image,
		memory_mib, cpu, disk_mib, ports, primary_port, primary_raw, variables, internal_state, status, desired,
		generation, install_deadline, created_at, updated_at)
		VALUES ('a', 'a', 'u', 'n', 't', 'nginx', 64, 1, 0, '80', 80, '80', '{}', 'INSTALLING', 'offline', 'running', 1, 0, 0, 0)`)); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- st.DeleteTemplate(ctx, "t") }()
	// Commit only once the delete waits on the deploy's transaction; before
	// that it could still see the instance in its own way.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := store.QueryRowRaw(ctx, st, `SELECT COUNT(*) FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))`,
			deployPID).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-deleted:
			t.Fatalf("DeleteTemplate returned %v without waiting for the deploy's transaction", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("DeleteTemplate never waited for the deploy's transaction")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := deploy.Commit(); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "delete racing a deploy", <-deleted, fault.Conflict, "")
	if _, err := st.TemplateByRef(ctx, "t"); err != nil {
		t.Errorf("the template in use is gone: %v", err)
	}
}

// testAddMissingTemplatesAddsEachBuiltinOnce: the built-in templates are
// added at every start, each once, and an operator's own template of one
// of their names is left alone.
func testAddMissingTemplatesAddsEachBuiltinOnce(t *testing.T, db database) {
	st := db(t)
	mine, err := st.SaveTemplate(ctx, images.Template{Name: "node.js APP", Image: "node:22"})
	if err != nil {
		t.Fatal(err)
	}
	builtins, err := images.Builtins()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := st.AddMissingTemplates(ctx, builtins); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := st.ListTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(builtins) {
		t.Fatalf("%d templates stored, want %d (the built-ins, one replaced by the operator's)", len(rows), len(builtins))
	}
	for _, row := range rows {
		tmpl, err := images.Decode(row.Doc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.EqualFold(row.Name, "node.js app") && (row.ID != mine.ID || tmpl.Image != "node:22") {
			t.Errorf("the operator's template was replaced: %+v", row)
		}
		if tmpl.ID != row.ID {
			t.Errorf("stored document of %s has Id %q, want %q", row.Name, tmpl.ID, row.ID)
		}
	}
}

// testReplaceTemplateUpdatesByUUIDOrName: a second import of an egg is a
// conflict naming the stored template, unless it replaces it; a
// replacement keeps the Id, matches by uuid before name, and gives the
// template's instances a new generation so that their nodes get the new
// spec.
func testReplaceTemplateUpdatesByUUIDOrName(t *testing.T, db database) {
	st := db(t)
	addUser(t, st, "u")
	addNode(t, st, "n", 8192, 10240, true)
	egg := images.Template{Name: "Moon Base", UUID: "5d1c0f2e-0000-4000-8000-000000000001", Image: "alpine:3"}
	first, err := st.SaveTemplate(ctx, egg)
	if err != nil {
		t.Fatal(err)
	}
	in := instance(t, "a", "u", "n", "80")
	in.TemplateID = first.ID
	if err := st.CreateInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	before, err := st.InstanceByID(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}

	renamed := egg
	renamed.Name = "Moon Base 2"
	_, err = st.SaveTemplate(ctx, renamed)
	expectFault(t, "the same uuid again", err, fault.Exist, "Uuid")
	if err == nil || !strings.Contains(err.Error(), `"Moon Base" (Id `+first.ID+`)`) {
		t.Errorf("the conflict does not name the stored template: %v", err)
	}
	_, err = st.SaveTemplate(ctx, images.Template{Name: "moon base", Image: "alpine:3"})
	expectFault(t, "the same name again", err, fault.Exist, "Name")

	renamed.Image = "alpine:3.20"
	got, created, err := st.ReplaceTemplate(ctx, renamed)
	if err != nil || created || got.ID != first.ID {
		t.Fatalf("replace by uuid = %+v, created %v, %v; want Id %s kept", got, created, err, first.ID)
	}
	row, err := st.TemplateByRef(ctx, first.ID)
	if err != nil || row.Name != "Moon Base 2" || !strings.Contains(string(row.Doc), "alpine:3.20") {
		t.Errorf("stored after replace: %+v, %v", row, err)
	}
	after, err := st.InstanceByID(ctx, "a")
	if err != nil || after.Generation != before.Generation+1 {
		t.Errorf("instance generation %d after replace (was %d), %v; want one more", after.Generation, before.Generation, err)
	}

	byName, created, err := st.ReplaceTemplate(ctx, images.Template{Name: "MOON BASE 2", Image: "alpine:3"})
	if err != nil || created || byName.ID != first.ID {
		t.Errorf("replace by name = %+v, created %v, %v; want Id %s kept", byName, created, err, first.ID)
	}
	fresh, created, err := st.ReplaceTemplate(ctx, images.Template{Name: "Mars Base", UUID: "other", Image: "alpine:3"})
	if err != nil || !created || fresh.ID == first.ID {
		t.Errorf("replace of nothing = %+v, created %v, %v; want a new template", fresh, created, err)
	}
	// A uuid of one template and the name of another: the name stays
	// taken, and the conflict says by which.
	_, _, err = st.ReplaceTemplate(ctx, images.Template{Name: "Mars Base", UUID: egg.UUID, Image: "alpine:3"})
	expectFault(t, "replace onto another template's name", err, fault.Exist, "Name")
}
