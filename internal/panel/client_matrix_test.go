package panel_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/schedule"
	"github.com/berth-dev/berth/internal/secret"
)

// matrixEntry is what the authorization matrix knows of one /api/client
// route: the permission it takes ("" for any place on the instance), and
// whether it changes anything; then a valid request and its success code.
type matrixEntry struct {
	need   access.Permission
	change bool
	// also is what the holder needs beside need: a schedule's tasks
	// take the permissions of what they do.
	also []access.Permission
	// query and body make a request the route accepts, on the files of
	// matrixFiles.
	query       string
	body        any
	contentType string
	ok          int
	// did, for a route that changes what the node holds, tells whether
	// the node's state went from before to after by that change.
	did func(before, after nodeState) bool
}

// nodeState is what the node holds of one instance: the files of its data
// folder by path (a folder's content is "/"), whether its server runs,
// and what was written on its input.
type nodeState struct {
	files   map[string]string
	running bool
	stdin   []string
}

// String shows s in a test's failure: an archive's bytes as its size.
func (s nodeState) String() string {
	var files []string
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		switch content := s.files[name]; {
		case content == "/":
			files = append(files, name+"/")
		case utf8.ValidString(content):
			files = append(files, fmt.Sprintf("%s %q", name, content))
		default:
			files = append(files, fmt.Sprintf("%s (%d bytes)", name, len(content)))
		}
	}
	return fmt.Sprintf("files [%s], running %v, input %q", strings.Join(files, ", "), s.running, s.stdin)
}

// nodeState reads what the node holds of instance id.
func (c *clientPanel) nodeState(id string) nodeState {
	c.t.Helper()
	s := nodeState{files: map[string]string{}}
	root := dataDir(c.node, id)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			s.files[filepath.ToSlash(rel)] = "/"
			return nil
		}
		b, err := os.ReadFile(path)
		s.files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		c.t.Fatalf("read the data folder of %s: %v", id, err)
	}
	ct, _ := c.node.Runtime.Container(id)
	s.running, s.stdin = ct.State.Running, ct.Stdin
	return s
}

// matrixFiles are the files the matrix's requests name: a text file, a
// file to rename, delete or compress, and an archive holding x.txt.
func matrixFiles(t testing.TB) map[string][]byte {
	t.Helper()
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	err := tw.WriteHeader(&tar.Header{Name: "x.txt", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	if err == nil {
		_, err = tw.Write([]byte("x"))
	}
	if err == nil {
		err = errors.Join(tw.Close(), gz.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"a.txt": []byte("hello"), "a": []byte("a"), "a.tar.gz": tgz.Bytes()}
}

// resetFiles leaves in instance id's data folder matrixFiles alone.
func (c *clientPanel) resetFiles(id string) {
	c.t.Helper()
	root := dataDir(c.node, id)
	entries, err := os.ReadDir(root)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			c.t.Fatal(err)
		}
	}
	for name, content := range matrixFiles(c.t) {
		if err := os.WriteFile(filepath.Join(root, name), content, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// clientMatrix is the specification of every /api/client instance route:
// DESIGN §8's permissions, written down apart from the route table so that
// the two check each other.
func clientMatrix(t *testing.T) map[string]matrixEntry {
	buf, hdr := uploadBody(t, map[string][]byte{"hello.txt": []byte("hello")})
	upload, uploadType := buf.String(), hdr.Get("Content-Type")
	noPerms := map[string]any{"permissions": []string{}}
	return map[string]matrixEntry{
		"GET /api/client/instances/{id}": {need: "", ok: 200},
		"POST /api/client/instances/{id}/power": {need: access.Power, change: true, body: map[string]any{"action": "stop"}, ok: 200,
			did: func(before, after nodeState) bool {
				// Stopped by the template's stop command.
				return before.running && !after.running && slices.Equal(after.stdin, slices.Concat(before.stdin, []string{"stop"}))
			}},
		"GET /api/client/instances/{id}/logs":          {need: access.ConsoleRead, ok: 200},
		"GET /api/client/instances/{id}/stats":         {need: access.ConsoleRead, ok: 200},
		"GET /api/client/instances/{id}/console":       {need: access.ConsoleRead, ok: http.StatusSwitchingProtocols},
		"GET /api/client/instances/{id}/install-log":   {need: access.ConsoleRead, ok: 200},
		"GET /api/client/instances/{id}/files":         {need: access.FilesRead, ok: 200},
		"GET /api/client/instances/{id}/files/content": {need: access.FilesRead, query: "?path=a.txt", ok: 200},
		"PUT /api/client/instances/{id}/files/content": {need: access.FilesWrite, change: true, query: "?path=a.txt", body: "text", contentType: "text/plain", ok: 200,
			did: func(_, s nodeState) bool { return s.files["a.txt"] == "text" }},
		"GET /api/client/instances/{id}/files/download": {need: access.FilesRead, query: "?path=a.txt", ok: 200},
		"POST /api/client/instances/{id}/files/upload": {need: access.FilesWrite, change: true, body: upload, contentType: uploadType, ok: 201,
			did: func(_, s nodeState) bool { return s.files["hello.txt"] == "hello" }},
		"POST /api/client/instances/{id}/files/mkdir": {need: access.FilesWrite, change: true, body: map[string]any{"path": "d"}, ok: 201,
			did: func(_, s nodeState) bool { return s.files["d"] == "/" }},
		"POST /api/client/instances/{id}/files/rename": {need: access.FilesWrite, change: true, body: map[string]any{"from": "a", "to": "b"}, ok: 200,
			did: func(_, s nodeState) bool { _, a := s.files["a"]; return !a && s.files["b"] == "a" }},
		"POST /api/client/instances/{id}/files/delete": {need: access.FilesWrite, change: true, body: map[string]any{"paths": []string{"a"}}, ok: 200,
			did: func(_, s nodeState) bool { _, a := s.files["a"]; return !a }},
		"POST /api/client/instances/{id}/files/compress": {need: access.FilesWrite, change: true, body: map[string]any{"paths": []string{"a"}, "destination": "c.tar.gz"}, ok: 201,
			did: func(_, s nodeState) bool { return s.files["c.tar.gz"] != "" && s.files["a"] == "a" }},
		"POST /api/client/instances/{id}/files/extract": {need: access.FilesWrite, change: true, body: map[string]any{"path": "a.tar.gz"}, ok: 200,
			did: func(_, s nodeState) bool { return s.files["x.txt"] == "x" }},
		"GET /api/client/instances/{id}/variables":            {need: access.Settings, ok: 200},
		"PUT /api/client/instances/{id}/variables":            {need: access.Settings, change: true, body: map[string]any{"variables": map[string]string{"MOTD": "hi"}}, ok: 200},
		"GET /api/client/instances/{id}/subusers":             {need: access.Subusers, ok: 200},
		"POST /api/client/instances/{id}/subusers":            {need: access.Subusers, change: true, body: map[string]any{"user": "target", "permissions": []string{}}, ok: 201},
		"PUT /api/client/instances/{id}/subusers/{userId}":    {need: access.Subusers, change: true, body: noPerms, ok: 200},
		"DELETE /api/client/instances/{id}/subusers/{userId}": {need: access.Subusers, change: true, ok: 204},
		"GET /api/client/instances/{id}/activity":             {need: access.ConsoleRead, ok: 200},
		"PATCH /api/client/instances/{id}":                    {need: access.Settings, change: true, body: map[string]any{"name": "renamed"}, ok: 200},
		"GET /api/client/instances/{id}/disk":                 {need: access.FilesRead, ok: 200},

		"GET /api/client/instances/{id}/schedules":                   {need: access.Schedules, ok: 200},
		"POST /api/client/instances/{id}/schedules":                  {need: access.Schedules, change: true, also: scheduleAlso, body: matrixSchedule, ok: 201},
		"GET /api/client/instances/{id}/schedules/{scheduleId}":      {need: access.Schedules, ok: 200},
		"PUT /api/client/instances/{id}/schedules/{scheduleId}":      {need: access.Schedules, change: true, also: scheduleAlso, body: matrixSchedule, ok: 200},
		"PATCH /api/client/instances/{id}/schedules/{scheduleId}":    {need: access.Schedules, change: true, also: scheduleAlso, body: map[string]any{"enabled": false}, ok: 200},
		"DELETE /api/client/instances/{id}/schedules/{scheduleId}":   {need: access.Schedules, change: true, ok: 204},
		"POST /api/client/instances/{id}/schedules/{scheduleId}/run": {need: access.Schedules, change: true, also: scheduleAlso, ok: 202},
		"GET /api/client/instances/{id}/webhooks":                    {need: access.Schedules, ok: 200},
		"POST /api/client/instances/{id}/webhooks": {need: access.Schedules, change: true,
			body: map[string]any{"url": "https://example.com/hook", "events": []string{"instance.crashed"}}, ok: 201},
		"GET /api/client/instances/{id}/webhooks/{webhookId}": {need: access.Schedules, ok: 200},
		"PATCH /api/client/instances/{id}/webhooks/{webhookId}": {need: access.Schedules, change: true,
			body: map[string]any{"events": []string{"instance.stopped"}}, ok: 200},
		"DELETE /api/client/instances/{id}/webhooks/{webhookId}":         {need: access.Schedules, change: true, ok: 204},
		"GET /api/client/instances/{id}/webhooks/{webhookId}/deliveries": {need: access.Schedules, ok: 200},
		"GET /api/client/instances/{id}/backups":                         {need: access.Backups, ok: 200},
		"POST /api/client/instances/{id}/backups":                        {need: access.Backups, change: true, body: map[string]any{"name": "b"}, ok: 202},
		"GET /api/client/instances/{id}/backups/{backupId}":              {need: access.Backups, ok: 200},
		"DELETE /api/client/instances/{id}/backups/{backupId}":           {need: access.Backups, change: true, ok: 204},
		"GET /api/client/instances/{id}/backups/{backupId}/download":     {need: access.Backups, ok: 200},
		"POST /api/client/instances/{id}/backups/{backupId}/restore":     {need: access.Backups, change: true, body: map[string]any{"truncate": false}, ok: 202},
		"POST /api/client/instances/{id}/backups/{backupId}/lock":        {need: access.Backups, change: true, ok: 200},
		"POST /api/client/instances/{id}/backups/{backupId}/unlock":      {need: access.Backups, change: true, ok: 200},
	}
}

// matrixSchedule is a schedule the matrix creates and replaces. Its run,
// which ends after the answer, only fails a backup, so that it changes
// nothing on the node that a later try could see.
var matrixSchedule = map[string]any{"name": "matrix", "cron": "0 4 * * *",
	"tasks": []map[string]any{{"action": "backup"}}}

// scheduleAlso is what the matrix schedule's backup task takes.
var scheduleAlso = []access.Permission{access.Backups}

// ensureMatrixSchedule gives instance the schedule that the matrix's
// {scheduleId} names, whatever an earlier try did to it.
func (c *clientPanel) ensureMatrixSchedule(instance string) {
	c.t.Helper()
	_ = c.st.DeleteSchedule(c.t.Context(), instance, matrixScheduleID(instance))
	err := c.st.CreateSchedule(c.t.Context(), schedule.Schedule{ID: matrixScheduleID(instance), InstanceID: instance, Name: "matrix",
		Cron: "0 4 * * *", Timezone: "UTC", Tasks: []schedule.Task{{Action: schedule.ActionBackup}}, CreatedAt: time.Now()})
	if err != nil {
		c.t.Fatalf("create the matrix's schedule: %v", err)
	}
}

// matrixScheduleID is the id of instance's matrix schedule.
func matrixScheduleID(instance string) string { return "matrix-" + instance }

// TestClientAuthorizationMatrix tries every /api/client/instances route as
// every kind of caller, each with a real credential: no credential and an
// admin key get 401, a stranger 404, a subuser without the route's
// permission 403, a read-only token 403 for a change, the owner of a
// suspended instance 409 for a change; the owner, an admin user's session
// and a subuser holding exactly the permission succeed. The node is real:
// each try finds matrixFiles and a running server, a refused change leaves
// the node as it was and an allowed one is done there. A route registered
// without an entry here fails the test. The account routes are the
// user's own, not an instance's: TestClientAccountRoutesTakeAUsersCredential.
func TestClientAuthorizationMatrix(t *testing.T) {
	c := newClientPanel(t)
	owner, holder, lacker, target := c.user("owner", false), c.user("holder", false), c.user("lacker", false), c.user("target", false)
	c.user("root", true)
	c.user("stranger", false)
	id := c.readyInstanceOf(owner, "25565")
	suspended := c.readyInstanceOf(owner, "25566")
	c.expect(200, "POST", "/api/instances/suspend/"+suspended, nil)

	as := map[string]string{
		"owner":    c.sessionFor("owner", "owner"),
		"admin":    c.sessionFor("admin", "root"),
		"stranger": c.sessionFor("stranger", "stranger"),
		"holder":   c.sessionFor("holder", "holder"),
		"lacker":   c.tokenFor("lacker", "lacker", false),
		"readonly": c.tokenFor("readonly", "owner", true),
	}

	matrix := clientMatrix(t)
	outer := c.t
	var seen []string
	for _, pattern := range c.server.Patterns() {
		if !strings.Contains(pattern, " /api/client/instances") {
			continue
		}
		seen = append(seen, pattern)
		if pattern == "GET /api/client/instances" {
			continue // a list, not one instance's: TestClientInstanceListShowsOwnedAndSharedWithPermissions
		}
		e, ok := matrix[pattern]
		if !ok {
			t.Errorf("route %s has no entry in the authorization matrix (clientMatrix)", pattern)
			continue
		}
		t.Run(strings.ReplaceAll(pattern, "/", "_"), func(t *testing.T) {
			c.t = t
			defer func() { c.t = outer }()
			if strings.Contains(pattern, "/backups") && !strings.HasSuffix(pattern, "GET /api/client/instances/{id}/backups") && !nodeServesBackups(c, id) {
				t.Skip("the node daemon does not serve backups yet: they land with the node side of backups (bknode)")
			}
			method, path, _ := strings.Cut(pattern, " ")
			others := slices.DeleteFunc(slices.Clone(access.All), func(p access.Permission) bool { return p == e.need })
			exactly := []access.Permission{}
			if e.need != "" {
				exactly = append([]access.Permission{e.need}, e.also...)
			}
			c.grant(id, holder, exactly...)
			c.grant(id, lacker, others...)
			c.grant(suspended, holder, exactly...)

			try := func(who, instance string, key string) int {
				// The subuser routes act on target: make it what each
				// call expects, a subuser with nothing or no subuser.
				if strings.HasSuffix(pattern, "/subusers") && method == "POST" {
					_ = c.st.RemoveSubuser(t.Context(), instance, target)
				} else if strings.Contains(pattern, "{userId}") {
					c.grant(instance, target)
				}
				if strings.Contains(pattern, "{scheduleId}") {
					c.ensureMatrixSchedule(instance)
				}
				// The files and the server are as the request expects.
				c.resetFiles(instance)
				if instance == id && !c.nodeState(id).running {
					c.expect(200, "POST", "/api/instances/power/"+id, map[string]any{"action": "start"})
				}
				if strings.Contains(pattern, "/backups") {
					c.backupRoom(instance)
					// An earlier caller's restore runs on in the node:
					// let it end, so that it does not pass for this one's.
					c.settleRestores(t.Context(), instance)
				}
				p := strings.NewReplacer("{id}", instance, "{userId}", target, "{scheduleId}", matrixScheduleID(instance)).Replace(path) + e.query
				if strings.Contains(p, "{webhookId}") {
					p = strings.ReplaceAll(p, "{webhookId}", c.webhookOf(instance))
				}
				if strings.Contains(pattern, "{backupId}") {
					p = strings.ReplaceAll(p, "{backupId}", c.nodeBackup(instance))
				}
				before := c.nodeState(instance)
				var code int
				if strings.HasSuffix(pattern, "/console") {
					_, code = c.dialConsoleAs(who, key, instance)
				} else {
					code = c.do(clientRequest{method: method, path: p, as: who, key: key, body: e.body, contentType: e.contentType}).code
				}
				after := c.nodeState(instance)
				switch {
				case e.change && code != e.ok && !reflect.DeepEqual(after, before):
					t.Errorf("%s as %q on %s was refused (%d), yet the node went from %v to %v",
						pattern, who, instance, code, before, after)
				case code == e.ok && e.did != nil && !e.did(before, after):
					t.Errorf("%s as %q on %s answered %d, yet the node went from %v to %v", pattern, who, instance, code, before, after)
				}
				return code
			}
			want := func(allowed, refused int) int {
				if e.change {
					return refused
				}
				return allowed
			}
			lackerWant := 403
			if e.need == "" {
				lackerWant = e.ok // every other permission is still a place on the instance
			}
			for _, tc := range []struct {
				caller, instance, key string
				want                  int
			}{
				{"", id, "", 401},
				{"", id, c.key, 401},
				{as["stranger"], id, "", 404},
				{as["holder"], id, "", e.ok},
				{as["lacker"], id, "", lackerWant},
				{as["owner"], id, "", e.ok},
				{as["admin"], id, "", e.ok},
				{as["readonly"], id, "", want(e.ok, 403)},
				{as["owner"], suspended, "", want(e.ok, 409)},
				{as["holder"], suspended, "", want(e.ok, 409)},
			} {
				if got := try(tc.caller, tc.instance, tc.key); got != tc.want {
					who := tc.caller
					if tc.key != "" {
						who = "admin key"
					}
					t.Errorf("%s as %q on %s: %d, want %d", pattern, who, tc.instance, got, tc.want)
				}
			}
		})
	}
	for pattern := range matrix {
		if !slices.Contains(seen, pattern) {
			t.Errorf("the matrix has %s, which no route registers", pattern)
		}
	}
}

// TestClientAccountRoutesTakeAUsersCredential walks every /api/client
// route that is not an instance's (the account's, and the list of
// instances): none answers a caller without a credential, or with an
// admin API key, but 401 naming what it takes; and a path under
// /api/client that no route serves answers the same, never the admin
// API's "API key is required".
func TestClientAccountRoutesTakeAUsersCredential(t *testing.T) {
	c := newClientPanel(t)
	var walked int
	patterns := c.server.Patterns()
	for _, pattern := range append(slices.Clone(patterns), "GET /api/client/nothing", "DELETE /api/client/account") {
		method, path, _ := strings.Cut(pattern, " ")
		if !strings.HasPrefix(path, "/api/client/") || strings.HasPrefix(path, "/api/client/instances/") {
			continue
		}
		walked++
		path = strings.ReplaceAll(path, "{id}", "x")
		for _, tc := range []struct {
			who, key, msg string
		}{
			{"no credential", "", "sign in"},
			{"the admin key", c.key, "API key is not a user credential"},
		} {
			r := c.do(clientRequest{method: method, path: path, key: tc.key})
			if r.code != 401 || !strings.Contains(r.errorMessage(t), tc.msg) {
				t.Errorf("%s %s with %s: %d %s, want 401 naming %q", method, path, tc.who, r.code, r.body, tc.msg)
			}
		}
	}
	if walked < 17 {
		t.Errorf("walked %d routes; want the 14 account routes, the instance list and the 2 unknown paths", walked)
	}
}

// TestClientAnswersCarryNoSecrets calls every /api/client route and the
// admin's activity log and checks that no answer, nor the request log,
// carries a password hash, the API key or the node's token.
func TestClientAnswersCarryNoSecrets(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	target := c.user("target", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	node, err := c.st.NodeByID(t.Context(), c.nodeID)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"a password hash":    "$argon2id",
		"the API key":        c.key,
		"the API key's hash": secret.Hash(c.key),
		"the node's token":   node.Token,
		"a webhook's secret": storedWebhookSecret,
	}
	var answers []response
	answers = append(answers, c.expectAs(200, "owner", "GET", "/api/client/instances", nil))
	for pattern, e := range clientMatrix(t) {
		if strings.HasSuffix(pattern, "/console") {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		if strings.Contains(pattern, "{userId}") {
			c.grant(id, target)
		}
		path = strings.ReplaceAll(strings.ReplaceAll(path, "{id}", id), "{userId}", target) + e.query
		path = strings.ReplaceAll(path, "{webhookId}", c.webhookOf(id))
		c.resetFiles(id)
		answers = append(answers, c.do(clientRequest{method: method, path: path, as: "owner", body: e.body, contentType: e.contentType}))
	}
	answers = append(answers, c.expect(200, "GET", "/api/audit", nil))
	for _, r := range answers {
		for name, s := range secrets {
			if strings.Contains(string(r.body), s) {
				t.Errorf("an answer (%d) carries %s: %s", r.code, name, r.body)
			}
		}
	}
	for name, s := range secrets {
		if strings.Contains(c.logs.String(), s) {
			t.Errorf("the request log holds %s", name)
		}
	}
}
