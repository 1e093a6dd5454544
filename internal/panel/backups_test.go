package panel_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/store"
)

// The panel's contract for backups (status codes, the limit, the lock,
// the states the follower records) is tested against backupNode, a stub
// that speaks the node's /v1 backup routes: the node daemon gains them in
// a separate change. The end-to-end test against a real node daemon and
// Docker is TestBackupCreateDownloadRestoreOnDocker in
// internal/e2e/backups_test.go, which the lead runs once both sides are
// merged.

// backupNode is a stub node whose backups finish when the test says.
type backupNode struct {
	srv *httptest.Server
	mu  sync.Mutex
	// backups holds what the node reports of each backup it knows.
	backups  map[string]nodeapi.BackupStatus
	requests []nodeapi.BackupRequest
	restores []nodeapi.RestoreRequest
	deleted  []string
	// refuse, when its Error is set, answers the next create.
	refuse       nodeapi.ErrorBody
	refuseStatus int
	// onDelete, when set, runs as the node deletes a backup.
	onDelete func(id string)
}

// backupArchive is every backup's archive on the stub.
var backupArchive = []byte("0123456789abcdefghijklmnopqrstuvwxyz")

func newBackupNode(t *testing.T) *backupNode {
	t.Helper()
	n := &backupNode{backups: map[string]nodeapi.BackupStatus{}}
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	notFound := func(w http.ResponseWriter) {
		answer(w, 404, nodeapi.ErrorBody{Error: "backup not found", Kind: fault.NotExist.String()})
	}
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, nodeapi.Health{Version: "stub", Docker: true, CPUs: 4})
	})
	mux.HandleFunc("GET /v1/instances", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, []nodeapi.InstanceStatus{})
	})
	mux.HandleFunc("POST /v1/instances/{id}/backups", func(w http.ResponseWriter, r *http.Request) {
		var req nodeapi.BackupRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.refuse.Error != "" {
			answer(w, n.refuseStatus, n.refuse)
			n.refuse = nodeapi.ErrorBody{}
			return
		}
		n.requests = append(n.requests, req)
		st := nodeapi.BackupStatus{ID: req.ID, State: nodeapi.BackupCreating}
		n.backups[req.ID] = st
		answer(w, 200, st)
	})
	mux.HandleFunc("GET /v1/instances/{id}/backups/{b}", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		st, ok := n.backups[r.PathValue("b")]
		if !ok {
			notFound(w)
			return
		}
		answer(w, 200, st)
	})
	mux.HandleFunc("DELETE /v1/instances/{id}/backups/{b}", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.backups, r.PathValue("b"))
		n.deleted = append(n.deleted, r.PathValue("b"))
		if n.onDelete != nil {
			n.onDelete(r.PathValue("b"))
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /v1/instances/{id}/backups/{b}/restore", func(w http.ResponseWriter, r *http.Request) {
		var req nodeapi.RestoreRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		n.mu.Lock()
		defer n.mu.Unlock()
		st, ok := n.backups[r.PathValue("b")]
		if !ok {
			notFound(w)
			return
		}
		n.restores = append(n.restores, req)
		st.Restore = nodeapi.RestoreRunning
		n.backups[st.ID] = st
		answer(w, 200, st)
	})
	mux.HandleFunc("GET /v1/instances/{id}/backups/{b}/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Header().Set("Content-Disposition", `attachment; filename="node-side.tar.gz"`)
		http.ServeContent(w, r, "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(backupArchive))
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

// set changes what the node reports of backup id.
func (n *backupNode) set(id string, change func(*nodeapi.BackupStatus)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.backups[id]
	change(&st)
	n.backups[id] = st
}

// complete ends backup id well, with backupArchive as its archive.
func (n *backupNode) complete(id string) {
	sum := sha256.Sum256(backupArchive)
	n.set(id, func(st *nodeapi.BackupStatus) {
		st.State, st.Bytes, st.SHA256 = nodeapi.BackupCompleted, int64(len(backupArchive)), hex.EncodeToString(sum[:])
		st.CompletedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	})
}

func (n *backupNode) forget(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.backups, id)
}

func (n *backupNode) lastRequest() nodeapi.BackupRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.requests) == 0 {
		return nodeapi.BackupRequest{}
	}
	return n.requests[len(n.requests)-1]
}

// backupPanel is a panel with the stub node, online, and instance id of
// owner on it, READY, from a template with backup commands.
type backupPanel struct {
	*clientPanel
	stub  *backupNode
	id    string
	owner string
}

// savingTemplate has the console commands of a consistent backup.
var savingTemplate = images.Template{Name: "Saving", Image: "ghcr.io/berth-dev/game:1", StopCommand: "stop",
	BackupCommands: &images.BackupCommands{Before: "save-off\nsave-all", After: "save-on"}}

func newBackupPanel(t *testing.T, cfg panel.Config) *backupPanel {
	t.Helper()
	p := newPanel(t, cfg)
	c := &clientPanel{testPanel: p, callers: map[string]cred{}}
	srv := httptest.NewServer(p.handler)
	t.Cleanup(srv.Close)
	c.url = srv.URL
	stub := newBackupNode(t)
	c.nodeID, _ = registerNode(t, p, stub.srv.Listener.Addr().(*net.TCPAddr).Port)
	ctx := context.Background()
	if err := p.st.SetNodeHealth(ctx, c.nodeID, store.NodeOnline, "stub", 4, time.Now()); err != nil {
		t.Fatal(err)
	}
	addTemplate(t, p.st, savingTemplate)
	b := &backupPanel{clientPanel: c, stub: stub, owner: c.user("owner", false)}
	body := deployBody(b.owner, c.nodeID, "25565", "25565")
	body["image"] = savingTemplate.Name
	b.id = p.deploy(body)
	if err := p.st.MarkApplied(ctx, b.id, 1, nodeapi.StatusRunning, "c1"); err != nil {
		t.Fatal(err)
	}
	return b
}

// follow runs the reconciler, which follows the backups, until the test
// ends.
func (b *backupPanel) follow(offline time.Duration) {
	rec := reconcile.New(reconcile.Config{Store: b.st, Interval: 5 * time.Millisecond, BackupOfflineTimeout: offline})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec.Run(ctx)
	}()
	b.t.Cleanup(func() { cancel(); <-done })
}

// admin is the admin API's path of the instance's backups.
func (b *backupPanel) admin(suffix string) string { return "/api/instances/backups/" + b.id + suffix }

// create starts a backup through the admin API and returns its id.
func (b *backupPanel) create(name string) string {
	b.t.Helper()
	m := b.expect(202, "POST", b.admin(""), map[string]any{"name": name}).object(b.t)
	id, _ := m["id"].(string)
	if id == "" || m["state"] != nodeapi.BackupCreating || m["name"] != name || m["completedAt"] != nil {
		b.t.Fatalf("create answered %v", m)
	}
	return id
}

// backup reads one backup through the admin API.
func (b *backupPanel) backup(id string) map[string]any {
	b.t.Helper()
	return b.expect(200, "GET", b.admin("/"+id), nil).object(b.t)
}

// waitState waits until backup id is in state.
func (b *backupPanel) waitState(id, state string) map[string]any {
	b.t.Helper()
	var m map[string]any
	waitUntil(b.t.(*testing.T), "backup "+id+" "+state, func() bool {
		m = b.backup(id)
		return m["state"] == state
	})
	return m
}

func TestBackupIsCreatedFollowedAndDownloaded(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	b.follow(time.Hour)
	id := b.create("before the update")
	if req := b.stub.lastRequest(); req.ID != id || req.Before != "save-off\nsave-all" || req.After != "save-on" {
		t.Errorf("the node was asked %+v, want backup %s with the template's commands", req, id)
	}
	b.expectAudit("instance.backup.create", id)
	b.expectError(409, "GET", b.admin("/"+id+"/download"), nil, "creating")
	b.stub.set(id, func(st *nodeapi.BackupStatus) { st.Written = 1234 })
	if m := b.backup(id); m["written"] != float64(1234) || m["state"] != nodeapi.BackupCreating {
		t.Errorf("a backup being created shows %v, want the node's progress", m)
	}

	b.stub.complete(id)
	m := b.waitState(id, nodeapi.BackupCompleted)
	sum := sha256.Sum256(backupArchive)
	if m["bytes"] != float64(len(backupArchive)) || m["sha256"] != hex.EncodeToString(sum[:]) ||
		m["completedAt"] != "2026-01-02T03:04:05Z" || m["error"] != "" || m["locked"] != false {
		t.Errorf("completed backup = %v", m)
	}
	if list := b.expect(200, "GET", b.admin(""), nil).array(t); len(list) != 1 || list[0]["id"] != id {
		t.Errorf("list = %v, want the one backup", list)
	}

	r := b.testPanel.expectAs(200, cred{key: b.key}, "GET", b.admin("/"+id+"/download"), nil)
	if !bytes.Equal(r.body, backupArchive) {
		t.Errorf("download = %q", r.body)
	}
	cd := r.header.Get("Content-Disposition")
	if cd != `attachment; filename=survival-before-the-update-`+id+`.tar.gz` {
		t.Errorf("Content-Disposition = %q, want the panel's safe name", cd)
	}
	b.expectAudit("instance.backup.download", id)
	// A download resumes where it stopped, and only while the archive is
	// the one it started on.
	r = b.testPanel.expectAs(206, cred{key: b.key}, "GET", b.admin("/"+id+"/download"), nil, "Range", "bytes=10-19")
	if string(r.body) != string(backupArchive[10:20]) || r.header.Get("Content-Range") != "bytes 10-19/36" {
		t.Errorf("range = %q %q", r.body, r.header.Get("Content-Range"))
	}
	stale := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	r = b.testPanel.expectAs(200, cred{key: b.key}, "GET", b.admin("/"+id+"/download"), nil, "Range", "bytes=10-19", "If-Range", stale)
	if len(r.body) != len(backupArchive) {
		t.Errorf("a range of a changed archive answered %d bytes, want the whole archive", len(r.body))
	}
}

func TestBackupFileNameKeepsToSafeCharacters(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	id := b.create(`../"evil"; name=x\r.tar`)
	b.stub.complete(id)
	if _, err := dispatchComplete(b, id); err != nil {
		t.Fatal(err)
	}
	r := b.testPanel.expectAs(200, cred{key: b.key}, "GET", b.admin("/"+id+"/download"), nil)
	if cd := r.header.Get("Content-Disposition"); cd != "attachment; filename=survival-evil---name-x-r.tar-"+id+".tar.gz" {
		t.Errorf("Content-Disposition = %q", cd)
	}
}

// dispatchComplete records backup id as the node reports it, as the
// follower's next pass would.
func dispatchComplete(b *backupPanel, id string) (store.Backup, error) {
	ctx := context.Background()
	bk, err := b.st.BackupByID(ctx, b.id, id)
	if err != nil {
		return bk, err
	}
	b.stub.mu.Lock()
	st := b.stub.backups[id]
	b.stub.mu.Unlock()
	return dispatch.ApplyBackupStatus(ctx, b.st, bk, st)
}

func TestBackupLimitRefusesCreatesPastIt(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 2})
	if m := b.expect(200, "POST", "/api/getInstance", map[string]any{"id": b.id}).object(t); m["backupLimit"] != float64(2) {
		t.Errorf("deployed instance has backupLimit %v, want the default 2", m["backupLimit"])
	}
	first := b.create("one")
	b.create("two")
	msg := b.expectError(409, "POST", b.admin(""), map[string]any{"name": "three"})
	if !strings.HasPrefix(msg, "backupLimit: ") {
		t.Errorf("past the limit: %q, want the backupLimit field named", msg)
	}
	// A failed backup gives its place back.
	b.stub.set(first, func(st *nodeapi.BackupStatus) { st.State, st.Error = nodeapi.BackupFailed, "disk full" })
	if _, err := dispatchComplete(b, first); err != nil {
		t.Fatal(err)
	}
	if m := b.backup(first); m["state"] != nodeapi.BackupFailed || m["error"] != "disk full" {
		t.Errorf("failed backup = %v", m)
	}
	b.create("three")

	m := b.expect(200, "PATCH", "/api/instances/"+b.id, map[string]any{"backupLimit": 4}).object(t)
	if m["backupLimit"] != float64(4) {
		t.Errorf("PATCH answered backupLimit %v, want 4", m["backupLimit"])
	}
	b.expectAudit("instance.update", b.id)
	b.create("four")
	for _, bad := range []any{-1, 1001, "many", nil} {
		b.expectError(400, "PATCH", "/api/instances/"+b.id, map[string]any{"backupLimit": bad}, "backupLimit")
	}
	b.expectError(404, "PATCH", "/api/instances/nope", map[string]any{"backupLimit": 1})
	b.expect(200, "PATCH", "/api/instances/"+b.id, map[string]any{"backupLimit": 0})
	b.expectError(409, "POST", b.admin(""), nil, "backupLimit")

	// A deploy may set its own limit.
	body := deployBody(b.owner, b.nodeID, "25566", "25566")
	body["backupLimit"] = 7
	dep := b.expect(201, "POST", "/api/instances/deploy", body).object(t)
	if inst, _ := dep["instance"].(map[string]any); inst["backupLimit"] != float64(7) {
		t.Errorf("deploy with backupLimit 7 answered %v", inst["backupLimit"])
	}
	body["ports"], body["primary"], body["backupLimit"] = "25567", "25567", -2
	b.expectError(400, "POST", "/api/instances/deploy", body, "backupLimit")
}

func TestLockedBackupCannotBeDeleted(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	id := b.create("keep")
	b.expectError(409, "DELETE", b.admin("/"+id), nil, "being created")
	b.stub.complete(id)
	if _, err := dispatchComplete(b, id); err != nil {
		t.Fatal(err)
	}
	if m := b.expect(200, "POST", b.admin("/"+id+"/lock"), nil).object(t); m["locked"] != true {
		t.Errorf("lock answered %v", m)
	}
	b.expectAudit("instance.backup.lock", id)
	b.expectError(409, "DELETE", b.admin("/"+id), nil, "locked")
	if m := b.expect(200, "POST", b.admin("/"+id+"/unlock"), nil).object(t); m["locked"] != false {
		t.Errorf("unlock answered %v", m)
	}
	b.expect(204, "DELETE", b.admin("/"+id), nil)
	b.expectAudit("instance.backup.delete", id)
	b.stub.mu.Lock()
	deleted := b.stub.deleted
	b.stub.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != id {
		t.Errorf("the node was asked to delete %v, want %s", deleted, id)
	}
	b.expectError(404, "GET", b.admin("/"+id), nil)
	b.expectError(404, "POST", b.admin("/"+id+"/lock"), nil)
	b.expectError(404, "GET", "/api/instances/backups/nope", nil)
}

// A backup locked while its delete runs is never left locked with its
// archive gone: the record goes first, or the delete is refused whole.
func TestBackupLockedDuringItsDeleteKeepsItsArchive(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	id := b.create("raced")
	b.stub.complete(id)
	if _, err := dispatchComplete(b, id); err != nil {
		t.Fatal(err)
	}
	b.stub.mu.Lock()
	b.stub.onDelete = func(id string) {
		_, _ = b.st.SetBackupLocked(context.Background(), b.id, id, true)
	}
	b.stub.mu.Unlock()
	b.call("DELETE", b.admin("/"+id), nil)
	b.stub.mu.Lock()
	deleted := slices.Contains(b.stub.deleted, id)
	b.stub.mu.Unlock()
	bk, err := b.st.BackupByID(context.Background(), b.id, id)
	if err == nil && bk.Locked && deleted {
		t.Errorf("backup %s is locked and kept, and its archive was deleted", id)
	}
}

func TestRestoreNeedsACompletedBackupOfAnActiveInstance(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	b.follow(time.Hour)
	id := b.create("world")
	b.expectError(409, "POST", b.admin("/"+id+"/restore"), nil, "only a completed backup")
	b.stub.complete(id)
	b.waitState(id, nodeapi.BackupCompleted)

	b.expect(200, "POST", "/api/instances/suspend/"+b.id, nil)
	b.expectError(409, "POST", b.admin("/"+id+"/restore"), nil, "suspended")
	b.expect(200, "POST", "/api/instances/unsuspend/"+b.id, nil)
	b.expectError(400, "POST", b.admin("/"+id+"/restore"), map[string]any{"truncate": "perhaps"}, "truncate")

	m := b.expect(202, "POST", b.admin("/"+id+"/restore"), map[string]any{"truncate": true}).object(t)
	if m["restore"] != nodeapi.RestoreRunning {
		t.Errorf("restore answered %v, want its restore running", m)
	}
	b.expectAudit("instance.backup.restore", id)
	b.stub.mu.Lock()
	restores := b.stub.restores
	b.stub.mu.Unlock()
	if len(restores) != 1 || restores[0] != (nodeapi.RestoreRequest{Truncate: true}) {
		t.Errorf("the node was asked %+v", restores)
	}
	b.expectError(409, "POST", b.admin("/"+id+"/restore"), nil, "already running")
	b.stub.set(id, func(st *nodeapi.BackupStatus) { st.Restore = nodeapi.RestoreCompleted })
	waitUntil(t, "the restore to complete", func() bool { return b.backup(id)["restore"] == nodeapi.RestoreCompleted })
}

func TestABackupTheNodeRefusesLeavesNothing(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	b.stub.mu.Lock()
	b.stub.refuse, b.stub.refuseStatus = nodeapi.ErrorBody{Error: "instance not found", Kind: fault.NotExist.String()}, 404
	b.stub.mu.Unlock()
	b.expectError(409, "POST", b.admin(""), nil, "not created this instance")
	if list := b.expect(200, "GET", b.admin(""), nil).array(t); len(list) != 0 {
		t.Errorf("a refused backup was kept: %v", list)
	}
	// An instance still installing, or on a node known to be offline, is
	// refused before anything is recorded.
	installing := b.deploy(deployBody(b.owner, b.nodeID, "25570", "25570"))
	b.expectError(409, "POST", "/api/instances/backups/"+installing, nil, "INSTALLING")
	ctx := context.Background()
	if err := b.st.SetNodeHealth(ctx, b.nodeID, store.NodeOffline, "", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b.expectError(503, "POST", b.admin(""), nil, "offline")
	if err := b.st.SetNodeHealth(ctx, b.nodeID, store.NodeOnline, "stub", 4, time.Now()); err != nil {
		t.Fatal(err)
	}
	if list := b.expect(200, "GET", b.admin(""), nil).array(t); len(list) != 0 {
		t.Errorf("a refused backup was kept: %v", list)
	}
	// A node that does not answer: the backup may or may not have begun.
	// It stays creating, for the follower to find out, rather than be
	// failed while the node may be archiving it.
	b.stub.srv.Close()
	if m := b.expect(202, "POST", b.admin(""), nil).object(t); m["state"] != nodeapi.BackupCreating {
		t.Errorf("an unanswered create answered %v", m)
	}
	list := b.expect(200, "GET", b.admin(""), nil).array(t)
	if len(list) != 1 || list[0]["state"] != nodeapi.BackupCreating {
		t.Errorf("after an unanswered create: %v", list)
	}
}

func TestFollowerFailsBackupsTheNodeLostOrThatOutlastItsAbsence(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	lost := b.create("lost")
	kept := b.create("kept")
	b.stub.forget(lost)
	b.follow(time.Millisecond)
	if m := b.waitState(lost, nodeapi.BackupFailed); !strings.Contains(m["error"].(string), "no record") {
		t.Errorf("a backup the node lost failed with %v", m["error"])
	}
	if m := b.backup(kept); m["state"] != nodeapi.BackupCreating {
		t.Fatalf("a backup the node still works on is %v", m["state"])
	}
	b.stub.srv.Close()
	if m := b.waitState(kept, nodeapi.BackupFailed); !strings.Contains(m["error"].(string), "offline") {
		t.Errorf("a backup of an offline node failed with %v", m["error"])
	}
}

func TestClientBackupsNeedTheBackupsPermission(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	id := b.create("shared")
	b.stub.complete(id)
	if _, err := dispatchComplete(b, id); err != nil {
		t.Fatal(err)
	}
	friend, helper := b.user("friend", false), b.user("helper", false)
	b.user("stranger", false)
	b.grant(b.id, friend, access.Backups)
	b.grant(b.id, helper, access.FilesRead)
	owner := b.sessionFor("owner", "owner")
	b.sessionFor("friend", "friend")
	b.sessionFor("helper", "helper")
	b.sessionFor("stranger", "stranger")
	b.tokenFor("reader", "owner", true)
	base := "/api/client/instances/" + b.id + "/backups"
	one := base + "/" + id
	for _, c := range []struct {
		as, method, path string
		want             int
	}{
		{owner, "GET", base, 200},
		{"friend", "GET", one, 200},
		{"friend", "GET", one + "/download", 200},
		{"helper", "GET", base, 403},
		{"helper", "GET", one + "/download", 403},
		{"helper", "POST", base, 403},
		{"stranger", "GET", base, 404},
		{"stranger", "GET", one + "/download", 404},
		{"reader", "GET", base, 200},
		{"reader", "POST", one + "/lock", 403},
		{"friend", "POST", one + "/lock", 200},
		{"friend", "DELETE", one, 409},
		{"friend", "POST", one + "/unlock", 200},
		{"friend", "POST", base, 202},
		{"friend", "DELETE", one, 204},
		{"friend", "GET", one, 404},
	} {
		if r := b.do(clientRequest{method: c.method, path: c.path, as: c.as}); r.code != c.want {
			t.Errorf("%s %s as %s: %d, want %d: %s", c.method, c.path, c.as, r.code, c.want, r.body)
		}
	}
	// An admin key is no user of the client API, and a user no admin.
	if r := b.do(clientRequest{method: "GET", path: base, key: b.key}); r.code != 401 {
		t.Errorf("admin key on the client API: %d", r.code)
	}
	if r := b.do(clientRequest{method: "GET", path: b.admin(""), as: "friend"}); r.code != 403 && r.code != 401 {
		t.Errorf("a user on the admin API: %d", r.code)
	}
	// A suspended instance's backups can be read, not changed.
	b.expect(200, "POST", "/api/instances/suspend/"+b.id, nil)
	b.expectAs(200, owner, "GET", base, nil)
	b.expectAs(409, owner, "POST", base, nil)
}

func TestDeletingAnInstanceDeletesItsBackupsLockedOnesToo(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 3})
	id := b.create("locked")
	b.stub.complete(id)
	if _, err := dispatchComplete(b, id); err != nil {
		t.Fatal(err)
	}
	b.expect(200, "POST", b.admin("/"+id+"/lock"), nil)
	b.create("open")
	b.expect(201, "DELETE", "/api/instance/delete", map[string]any{"id": b.id})
	if list, err := b.st.Backups(context.Background(), b.id); err != nil || len(list) != 0 {
		t.Errorf("backups of a deleted instance: %v, %v", list, err)
	}
}

// nodeServesBackups reports whether the node daemon of c serves the
// backup routes of the node API: it answers a backup it does not know
// with its own "not found", where a daemon without them knows no such
// endpoint.
func nodeServesBackups(c *clientPanel, instance string) bool {
	_, err := c.node.Client().GetBackup(context.Background(), instance, "probe")
	var ne *nodeapi.Error
	return !(errors.As(err, &ne) && strings.HasPrefix(ne.Message, "no such endpoint"))
}

// backupRoom lets instance hold as many backups as a test makes.
func (c *clientPanel) backupRoom(instance string) {
	c.t.Helper()
	if _, err := c.st.SetBackupLimit(context.Background(), instance, panel.MaxBackupLimit); err != nil {
		c.t.Fatal(err)
	}
}

// settleRestores waits for the node to end every restore of instance the
// panel knows to be running, and records their ends as the follower
// would: the node takes no new backup of an instance it is restoring.
func (c *clientPanel) settleRestores(ctx context.Context, instance string) {
	c.t.Helper()
	backups, err := c.st.Backups(ctx, instance)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, b := range backups {
		if b.Restore != nodeapi.RestoreRunning {
			continue
		}
		var status nodeapi.BackupStatus
		waitUntil(c.t.(*testing.T), "the node to end the restore of "+b.ID, func() bool {
			status, err = c.node.Client().GetBackup(ctx, instance, b.ID)
			return err == nil && status.Restore != nodeapi.RestoreRunning
		})
		if _, err := dispatch.ApplyBackupStatus(ctx, c.st, b, status); err != nil {
			c.t.Fatal(err)
		}
	}
}

// nodeBackup makes a backup of instance on its node through the admin
// API, waits for the node to complete it, records that as the follower
// would, and returns its id.
func (c *clientPanel) nodeBackup(instance string) string {
	c.t.Helper()
	c.backupRoom(instance)
	ctx := context.Background()
	c.settleRestores(ctx, instance)
	m := c.expect(202, "POST", "/api/instances/backups/"+instance, nil).object(c.t)
	id, _ := m["id"].(string)
	var status nodeapi.BackupStatus
	waitUntil(c.t.(*testing.T), "the node to complete backup "+id, func() bool {
		var err error
		status, err = c.node.Client().GetBackup(ctx, instance, id)
		return err == nil && status.State != nodeapi.BackupCreating
	})
	b, err := c.st.BackupByID(ctx, instance, id)
	if err == nil {
		b, err = dispatch.ApplyBackupStatus(ctx, c.st, b, status)
	}
	if err != nil || b.State != nodeapi.BackupCompleted {
		c.t.Fatalf("backup %s of %s: %+v, %v", id, instance, b, err)
	}
	return id
}

// TestBackupListPagesNewestFirst: the backups list takes ?limit and
// ?after as the other lists do, newest first, its pages following the
// Link header to the whole list.
func TestBackupListPagesNewestFirst(t *testing.T) {
	b := newBackupPanel(t, panel.Config{DefaultBackupLimit: 5})
	var made []string
	for _, name := range []string{"one", "two", "three", "four", "five"} {
		made = append(made, b.create(name))
	}
	whole := b.expect(200, "GET", b.admin(""), nil).array(t)
	var ids []string
	for _, m := range whole {
		ids = append(ids, m["id"].(string))
	}
	// Created within a millisecond of each other, backups keep the id's
	// order among themselves: compare sets, and the order of the pages
	// with the whole.
	if !slices.Equal(slices.Sorted(slices.Values(ids)), slices.Sorted(slices.Values(made))) {
		t.Fatalf("the whole list %v, want %v", ids, made)
	}
	var paged []string
	next := b.admin("?limit=2")
	pages := 0
	for ; next != ""; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 5 backups by 2")
		}
		r := b.expect(200, "GET", next, nil)
		page := r.array(t)
		if len(page) > 2 {
			t.Fatalf("a page of %d backups, asked for 2", len(page))
		}
		for _, m := range page {
			paged = append(paged, m["id"].(string))
		}
		next = ""
		if link := r.header.Get("Link"); link != "" {
			u, _, ok := strings.Cut(strings.TrimPrefix(link, "<"), ">")
			if !ok {
				t.Fatalf("Link %q", link)
			}
			next = u
		}
	}
	if pages != 3 || !slices.Equal(paged, ids) {
		t.Errorf("%d pages gave %v, the whole list %v", pages, paged, ids)
	}
	b.expectError(400, "GET", b.admin("?limit=0"), nil, "limit")
}
