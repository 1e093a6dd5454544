package panel_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// permissionsOf reads the "permissions" of a client instance view.
func permissionsOf(t *testing.T, m map[string]any) []string {
	t.Helper()
	raw, ok := m["permissions"].([]any)
	if !ok {
		t.Fatalf("instance has no permissions list: %v", m)
	}
	out := make([]string, len(raw))
	for i, p := range raw {
		out[i], _ = p.(string)
	}
	return out
}

func allNames() []string {
	out := make([]string, len(access.All))
	for i, p := range access.All {
		out[i] = string(p)
	}
	return out
}

func TestClientInstanceListShowsOwnedAndSharedWithPermissions(t *testing.T) {
	c := newClientPanel(t)
	owner, friend := c.user("owner", false), c.user("friend", false)
	c.user("root", true)
	mine := c.readyInstanceOf(owner, "25565")
	theirs := c.readyInstanceOf(friend, "25566")
	c.grant(mine, friend, access.Power, access.ConsoleRead)

	for _, tc := range []struct {
		who  string
		user string
		want map[string][]string
	}{
		{"owner", "owner", map[string][]string{mine: allNames()}},
		{"friend", "friend", map[string][]string{mine: {"console.read", "power"}, theirs: allNames()}},
		// An admin's own list holds its own instances; the admin API has all.
		{"admin", "root", map[string][]string{}},
	} {
		list := c.expectAs(200, c.sessionFor(tc.who, tc.user), "GET", "/api/client/instances", nil).array(t)
		got := map[string][]string{}
		for _, m := range list {
			hasKeys(t, "client instance", m, "Id", "Name", "Status", "Node", "suspended")
			got[m["Id"].(string)] = permissionsOf(t, m)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s lists %v, want %v", tc.who, got, tc.want)
		}
		for id, perms := range tc.want {
			if !slices.Equal(got[id], perms) {
				t.Errorf("%s: %s has permissions %v, want %v", tc.who, id, got[id], perms)
			}
		}
	}
	one := c.expectAs(200, "friend", "GET", "/api/client/instances/"+mine, nil).object(t)
	if p := permissionsOf(t, one); !slices.Equal(p, []string{"console.read", "power"}) || one["Id"] != mine {
		t.Errorf("friend's view of %s = %v", mine, one)
	}
}

func TestClientStrangerAndMissingInstanceGetTheSameAnswer(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.user("stranger", false)
	c.sessionFor("stranger", "stranger")
	for _, suffix := range []string{"", "/logs", "/subusers", "/activity"} {
		hidden := c.expectAs(404, "stranger", "GET", "/api/client/instances/"+id+suffix, nil)
		missing := c.expectAs(404, "stranger", "GET", "/api/client/instances/no-such-instance"+suffix, nil)
		if string(hidden.body) != string(missing.body) {
			t.Errorf("%s: a stranger is told %s, a missing instance %s: the answer hints the instance exists",
				suffix, hidden.body, missing.body)
		}
	}
	// A bad body is refused before the instance is looked up, the same
	// for both: it tells nothing either.
	bad := map[string]any{"action": "explode"}
	a := c.expectAs(400, "stranger", "POST", "/api/client/instances/"+id+"/power", bad)
	b := c.expectAs(400, "stranger", "POST", "/api/client/instances/no-such-instance/power", bad)
	if string(a.body) != string(b.body) {
		t.Errorf("bad power body: %s vs %s", a.body, b.body)
	}
}

func TestClientPowerReusesTheAdminHandlerThroughTheAuthorizer(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	ctx := context.Background()
	before, err := c.st.InstanceByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// What a reconciler pass already in flight would send.
	stale, err := dispatch.Spec(ctx, c.st, before)
	if err != nil {
		t.Fatal(err)
	}
	m := c.expectAs(200, "owner", "POST", "/api/client/instances/"+id+"/power", map[string]any{"action": "stop"}).object(t)
	if m["Id"] != id || m["Status"] != nodeapi.StatusStopped {
		t.Errorf("power answered %v, want %s stopped", m, id)
	}
	in, err := c.st.InstanceByID(ctx, id)
	if err != nil || in.Desired != nodeapi.DesiredStopped || in.Generation <= before.Generation {
		t.Errorf("after a client stop the desired state is %q at generation %d (was %d), %v; want stopped at a newer one",
			in.Desired, in.Generation, before.Generation, err)
	}
	// The node stopped the server, with the template's stop command, at
	// the generation the panel recorded its desire at.
	if ct, _ := c.node.Runtime.Container(id); ct.State.Running || !slices.Equal(ct.Stdin, []string{"stop"}) {
		t.Errorf("after a client stop the server runs: %v, its input is %q; want it stopped by \"stop\"",
			ct.State.Running, ct.Stdin)
	}
	expectStaleEnsureIgnored(t, c.node, stale, false)

	c.node.Runtime.ResetCalls()
	c.expectAs(400, "owner", "POST", "/api/client/instances/"+id+"/power", map[string]any{"action": "explode"})
	for _, method := range []string{"Start", "Stop", "Kill"} {
		if n := c.node.Runtime.Calls(method); n != 0 {
			t.Errorf("a refused power action reached the runtime's %s", method)
		}
	}
}

func TestClientSubuserGrantsAreBoundedAndRecorded(t *testing.T) {
	c := newClientPanel(t)
	owner, manager, helper := c.user("owner", false), c.user("manager", false), c.user("helper", false)
	c.user("newcomer", false)
	id := c.readyInstanceOf(owner, "25565")
	c.grant(id, manager, access.Power, access.Subusers)
	c.grant(id, helper, access.FilesRead)
	c.sessionFor("owner", "owner")
	c.tokenFor("manager", "manager", false)
	subs := "/api/client/instances/" + id + "/subusers"

	// Nobody grants what it does not hold.
	c.expectAs(403, "manager", "POST", subs, map[string]any{"user": "newcomer", "permissions": []string{"power", "files.write"}})
	m := c.expectAs(201, "manager", "POST", subs, map[string]any{"user": "newcomer@example.com", "permissions": []string{"power"}}).object(t)
	if m["username"] != "newcomer" || !slices.Equal(permissionsOf(t, m), []string{"power"}) {
		t.Errorf("added subuser = %v", m)
	}
	newcomer, _ := m["userId"].(string)
	// Nor changes or removes one who holds more than it does.
	c.expectAs(403, "manager", "PUT", subs+"/"+helper, map[string]any{"permissions": []string{}})
	c.expectAs(403, "manager", "DELETE", subs+"/"+helper, nil)
	c.expectAs(200, "owner", "PUT", subs+"/"+helper, map[string]any{"permissions": []string{"files.read", "files.write"}})

	for _, tc := range []struct {
		body  map[string]any
		code  int
		words string
	}{
		{map[string]any{"user": "nobody", "permissions": []string{}}, 400, "user"},
		{map[string]any{"user": "owner", "permissions": []string{}}, 400, "owns"},
		{map[string]any{"user": "newcomer", "permissions": []string{}}, 409, "already"},
		{map[string]any{"user": "helper", "permissions": []string{"root"}}, 400, "permissions"},
		{map[string]any{"user": "helper", "permissions": []string{"power", "power"}}, 400, "permissions"},
		{map[string]any{"user": "helper", "permissions": 7}, 400, "permissions"},
		{map[string]any{"permissions": []string{}}, 400, "user"},
	} {
		r := c.expectAs(tc.code, "owner", "POST", subs, tc.body)
		if msg := r.errorMessage(t); !strings.Contains(msg, tc.words) {
			t.Errorf("POST %v: error %q does not mention %q", tc.body, msg, tc.words)
		}
	}
	c.expectAs(400, "owner", "PUT", subs+"/"+newcomer, map[string]any{})
	c.expectAs(404, "owner", "PUT", subs+"/"+owner, map[string]any{"permissions": []string{}})

	c.expectAs(204, "manager", "DELETE", subs+"/"+newcomer, nil)
	c.expectAs(404, "manager", "DELETE", subs+"/"+newcomer, nil)
	list := c.expectAs(200, "owner", "GET", subs, nil).array(t)
	if got := indexBy(t, list, "username"); len(got) != 2 || got["manager"] == nil || got["helper"] == nil {
		t.Errorf("subusers = %v, want manager and helper", list)
	}

	// Every change is in the activity log: who, what, of whom, with what.
	entries, err := c.st.AuditPage(context.Background(), store.AuditFilter{InstanceID: id, Action: "instance.subuser", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.ActorKind+" "+e.UserID+" "+e.Action+" "+e.Target+" ["+e.Detail+"]")
	}
	want := []string{
		"token " + manager + " instance.subuser.delete " + newcomer + " []",
		"session " + owner + " instance.subuser.update " + helper + " [files.read files.write]",
		"token " + manager + " instance.subuser.create " + newcomer + " [power]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("subuser activity:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClientVariablesKeepTheTemplatesRules(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	vars := "/api/client/instances/" + id + "/variables"

	list := c.expectAs(200, "owner", "GET", vars, nil).object(t)["variables"].([]any)
	byEnv := map[string]map[string]any{}
	for _, v := range list {
		m := v.(map[string]any)
		byEnv[m["env"].(string)] = m
	}
	if len(byEnv) != 3 || byEnv["LICENSE"]["editable"] != false || byEnv["MOTD"]["editable"] != true ||
		byEnv["PLAYERS"]["type"] != "int" || byEnv["PLAYERS"]["max"] != float64(100) || byEnv["MOTD"]["value"] != "hello" {
		t.Errorf("variables = %v", byEnv)
	}

	before, _ := c.st.InstanceByID(context.Background(), id)
	for _, tc := range []struct {
		vars  map[string]any
		words string
	}{
		{map[string]any{"LICENSE": "pro"}, "not editable"},
		{map[string]any{"PLAYERS": "1000"}, "at most 100"},
		{map[string]any{"PLAYERS": "many"}, "whole number"},
		{map[string]any{"MOTD": strings.Repeat("x", 21)}, "at most 20"},
		{map[string]any{"PATH": "/evil"}, "PATH"},
		{map[string]any{"EXTRA": "1"}, "not a variable"},
	} {
		r := c.expectAs(400, "owner", "PUT", vars, map[string]any{"variables": tc.vars})
		if msg := r.errorMessage(t); !strings.Contains(msg, "variables") || !strings.Contains(msg, tc.words) {
			t.Errorf("PUT %v: error %q, want it to name variables and %q", tc.vars, msg, tc.words)
		}
	}
	c.expectAs(400, "owner", "PUT", vars, map[string]any{})
	if in, _ := c.st.InstanceByID(context.Background(), id); in.Generation != before.Generation {
		t.Error("a refused change of variables changed the instance")
	}

	// A locked variable is refused whatever its value, its default too:
	// an owner does not undo what an admin set.
	r := c.expectAs(400, "owner", "PUT", vars, map[string]any{"variables": map[string]any{"PLAYERS": 20, "LICENSE": "community"}})
	if msg := r.errorMessage(t); !strings.Contains(msg, "LICENSE: is not editable") {
		t.Errorf("a locked variable sent with its default: %q, want it refused by name", msg)
	}
	// An admin set the locked one beyond the default: the owner still
	// changes an editable one, and the locked value stays.
	if _, err := c.st.SetVariables(context.Background(), id, map[string]string{"LICENSE": "pro", "MOTD": "hello", "PLAYERS": "10"}); err != nil {
		t.Fatal(err)
	}
	before, _ = c.st.InstanceByID(context.Background(), id)
	c.expectAs(200, "owner", "PUT", vars, map[string]any{"variables": map[string]any{"PLAYERS": 20}})
	in, err := c.st.InstanceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.Variables["PLAYERS"] != "20" || in.Variables["MOTD"] != "hello" || in.Variables["LICENSE"] != "pro" {
		t.Errorf("variables after the change = %v", in.Variables)
	}
	c.expectAs(400, "owner", "PUT", vars, map[string]any{"variables": map[string]any{"LICENSE": "community"}})
	if in, _ := c.st.InstanceByID(context.Background(), id); in.Variables["LICENSE"] != "pro" {
		t.Errorf("the owner reset a locked value to %q", in.Variables["LICENSE"])
	}
	// The reconciler carries the change to the node: a new generation.
	if in.Generation <= before.Generation || in.AppliedGeneration >= in.Generation {
		t.Errorf("generation %d (applied %d), was %d: the node would never hear of the change",
			in.Generation, in.AppliedGeneration, before.Generation)
	}
	e := c.lastAudit()
	if e.Action != "instance.variables" || e.InstanceID != id || e.UserID != owner || e.Detail != "PLAYERS" {
		t.Errorf("newest activity = %+v", e)
	}
	// After its next pass the server runs with the new value from its
	// next start: the node keeps a running server's container as it is.
	applyOnNode(t, c.testPanel, c.node, id)
	c.expectAs(200, "owner", "POST", "/api/client/instances/"+id+"/power", map[string]any{"action": "restart"})
	if ct, _ := c.node.Runtime.Container(id); !ct.State.Running || !slices.Contains(ct.Spec.Env, "PLAYERS=20") {
		t.Errorf("restarted, the server runs (%v) with the environment %q, want PLAYERS=20", ct.State.Running, ct.Spec.Env)
	}

	// An instance of a bare Docker image has no rules to keep: nothing is
	// editable.
	bare := c.deploy(deployBody(owner, c.nodeID, "25570", "25570"))
	r = c.expectAs(400, "owner", "PUT", "/api/client/instances/"+bare+"/variables", map[string]any{"variables": map[string]any{"A": "b"}})
	if msg := r.errorMessage(t); !strings.Contains(msg, "template") {
		t.Errorf("bare image: %q", msg)
	}
}

func TestActivityRecordsWhoWhatWhichInstanceFromWhereAndWhen(t *testing.T) {
	// Every entry, the deploys' included, is made after start: under load,
	// the set-up alone takes seconds.
	start := time.Now().Add(-time.Second)
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	other := c.readyInstanceOf(owner, "25566")
	c.tokenFor("token", "owner", false)
	c.sessionFor("owner", "owner")

	c.expectAs(200, "token", "POST", "/api/client/instances/"+id+"/power", map[string]any{"action": "stop"})
	c.expectAs(201, "owner", "POST", "/api/client/instances/"+id+"/files/mkdir", map[string]any{"path": "world"})
	c.expect(200, "POST", "/api/instances/power/"+id, map[string]any{"action": "kill"})
	c.expectAs(200, "owner", "POST", "/api/client/instances/"+other+"/power", map[string]any{"action": "stop"})
	// Each was done on the node, not only recorded.
	if fi, err := os.Stat(filepath.Join(dataDir(c.node, id), "world")); err != nil || !fi.IsDir() {
		t.Errorf("the client's mkdir left no folder world on the node: %v", err)
	}
	for _, in := range []string{id, other} {
		if ct, _ := c.node.Runtime.Container(in); ct.State.Running {
			t.Errorf("%s still runs after its power actions", in)
		}
	}

	page := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/activity", nil).object(t)
	data := page["data"].([]any)
	var got []string
	for _, d := range data {
		m := d.(map[string]any)
		actor := m["actor"].(map[string]any)
		if _, ok := actor["credentialId"]; ok {
			t.Errorf("an instance's activity shows a credential id to its users: %v", m)
		}
		// The admin key's calls here come through a recorder, not a socket.
		if ip := m["ip"]; m["instance"] != id || ip == "" || (actor["kind"] != "key" && ip != "127.0.0.1") {
			t.Errorf("entry %v: want instance %s from 127.0.0.1", m, id)
		}
		at, err := time.Parse(time.RFC3339Nano, m["at"].(string))
		if err != nil || at.Before(start) || at.After(time.Now()) {
			t.Errorf("entry at %v (%v), want about now", m["at"], err)
		}
		got = append(got, actor["kind"].(string)+" "+m["action"].(string))
	}
	want := []string{"key instance.power.kill", "session instance.files.mkdir", "token instance.power.stop"}
	if !slices.Equal(got[:3], want) {
		t.Errorf("activity of %s = %v, want it to start %v", id, got, want)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "session instance.power") {
			t.Errorf("%s's activity holds another instance's entry: %v", id, got)
		}
	}

	// Pages: one at a time, following next, ends with null.
	var walked []string
	next := ""
	for range 10 {
		q := url.Values{"limit": {"1"}, "action": {"instance.power"}}
		if next != "" {
			q.Set("after", next)
		}
		pg := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/activity?"+q.Encode(), nil).object(t)
		for _, d := range pg["data"].([]any) {
			walked = append(walked, d.(map[string]any)["action"].(string))
		}
		n, _ := pg["next"].(string)
		if n == "" {
			break
		}
		next = n
	}
	if !slices.Equal(walked, []string{"instance.power.kill", "instance.power.stop"}) {
		t.Errorf("paging the power entries walked %v", walked)
	}

	// The admin's log has everything, credentials too, and filters.
	all := c.expect(200, "GET", "/api/audit?action=instance.power&instance="+other, nil).object(t)["data"].([]any)
	if len(all) != 1 || all[0].(map[string]any)["actor"].(map[string]any)["credentialId"] != c.credentialID("owner") {
		t.Errorf("admin audit of %s = %v", other, all)
	}
	keyed := c.expect(200, "GET", "/api/audit?actor="+c.keyID+"&action=instance.power", nil).object(t)["data"].([]any)
	if len(keyed) != 1 || keyed[0].(map[string]any)["action"] != "instance.power.kill" {
		t.Errorf("admin audit of the key's instance changes = %v", keyed)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	if d := c.expect(200, "GET", "/api/audit?since="+future, nil).object(t)["data"].([]any); len(d) != 0 {
		t.Errorf("entries since an hour ahead: %v", d)
	}
	if d := c.expect(200, "GET", "/api/audit?until="+future, nil).object(t)["data"].([]any); len(d) < 4 {
		t.Errorf("entries until an hour ahead: %d, want all", len(d))
	}
	for _, q := range []string{"since=yesterday", "until=1", "limit=0", "limit=1001", "limit=x", "after=zz", "after=1.XYZ", "actor=%00", "%zz"} {
		r := c.call("GET", "/api/audit?"+q, nil)
		field, _, _ := strings.Cut(q, "=")
		if field == "%zz" {
			field = "query"
		}
		if r.code != 400 || !strings.Contains(r.errorMessage(t), field) {
			t.Errorf("GET /api/audit?%s: %d %s, want 400 naming %s", q, r.code, r.body, field)
		}
	}
	c.expectAs(400, "owner", "GET", "/api/client/instances/"+id+"/activity?since=soon", nil)
	if r := c.send("", "GET", "/api/audit", nil); r.code != 401 {
		t.Errorf("audit without a key: %d", r.code)
	}
}

func TestClientConsoleChecksEachFrameAgainstThePermissions(t *testing.T) {
	c := newClientPanel(t)
	owner, watcher, typist := c.user("owner", false), c.user("watcher", false), c.user("typist", false)
	id := c.readyInstanceOf(owner, "25565")
	c.grant(id, watcher, access.ConsoleRead)
	c.grant(id, typist, access.ConsoleRead, access.ConsoleWrite)
	c.sessionFor("watcher", "watcher")
	c.sessionFor("typist", "typist")

	conn, code := c.dialConsoleAs("watcher", "", id)
	if conn == nil {
		t.Fatalf("watcher's console: %d", code)
	}
	sendCommand(t, conn, "op watcher")
	if msg := readConsoleError(t, conn); !strings.Contains(msg, "console.write") {
		t.Errorf("a command without console.write: %q", msg)
	}
	power, _ := json.Marshal(nodeapi.ConsoleMessage{Event: nodeapi.EventPower, Data: json.RawMessage(`"kill"`)})
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, power); err != nil {
		t.Fatal(err)
	}
	if msg := readConsoleError(t, conn); !strings.Contains(msg, "power") {
		t.Errorf("a power action without power: %q", msg)
	}
	if in, _ := c.st.InstanceByID(context.Background(), id); in.Desired != nodeapi.DesiredRunning {
		t.Errorf("a refused kill changed the desired state to %s", in.Desired)
	}
	if ct, _ := c.node.Runtime.Container(id); !ct.State.Running || c.node.Runtime.Calls("Kill") != 0 {
		t.Errorf("a refused kill reached the node: running %v after %d kills", ct.State.Running, c.node.Runtime.Calls("Kill"))
	}

	typed, code := c.dialConsoleAs("typist", "", id)
	if typed == nil {
		t.Fatalf("typist's console: %d", code)
	}
	sendCommand(t, typed, "say hello")
	waitUntil(t, "the typist's line on the server's input", func() bool { return len(stdin(c.node, id)) > 0 })
	if got := stdin(c.node, id); !slices.Equal(got, []string{"say hello"}) {
		t.Errorf("the server's input is %q, want the typist's command alone", got)
	}
	// The panel records the command once the node has it.
	waitUntil(t, "the typist's command in the activity log", func() bool {
		e := c.lastAudit()
		return e.Action == "instance.console.command" && e.UserID == typist && e.Detail == "say hello"
	})
}

// readConsoleError reads frames until an error event and returns its text.
func readConsoleError(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("no error event arrived: %v", err)
		}
		var m nodeapi.ConsoleMessage
		if json.Unmarshal(b, &m) == nil && m.Event == nodeapi.EventError {
			return m.Text()
		}
	}
}

// TestDeletingASubuserEndsItsAccessAndKeepsTheInstance: DELETE
// /api/users/{userId} of a subuser that is signed in answers 204 (only
// owning instances blocks it); its grant and its session go with it, and
// the instance stays, its owner's.
func TestDeletingASubuserEndsItsAccessAndKeepsTheInstance(t *testing.T) {
	c := newClientPanel(t)
	owner, friend := c.user("owner", false), c.user("friend", false)
	id := c.readyInstanceOf(owner, "25565")
	c.grant(id, friend, access.ConsoleRead)
	c.sessionFor("friend", "friend")
	c.sessionFor("owner", "owner")
	c.expectAs(200, "friend", "GET", "/api/client/instances/"+id, nil)
	c.expect(409, "DELETE", "/api/users/"+owner, nil)
	c.expect(204, "DELETE", "/api/users/"+friend, nil)
	c.expectAs(401, "friend", "GET", "/api/client/instances/"+id, nil)
	if subs := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/subusers", nil).array(t); len(subs) != 0 {
		t.Errorf("subusers after the friend's delete = %v", subs)
	}
}
