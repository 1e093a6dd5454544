package panel_test

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// adminPaths are the pages of ui_admin.go.
var adminPaths = []string{"/admin/users", "/admin/nodes", "/admin/keys", "/admin/audit"}

// signedInAdmin adds the admin "root" and returns its session.
func (p *testPanel) signedInAdmin() string {
	p.t.Helper()
	p.addUser("root", true)
	return p.signIn("root", "")
}

func TestAdminPagesAreForAdminsOnly(t *testing.T) {
	p := newPanel(t, panel.Config{})
	admin := p.signedInAdmin()
	p.addUser("ann", false)
	user := p.signIn("ann", "")
	for _, path := range adminPaths {
		p.expectSignInRedirect(path)
		body := p.expectPage(403, user, path, "Not allowed", "This page is for admins.")
		if strings.Contains(body, `class="subnav"`) {
			t.Errorf("GET %s as a user shows the admin menu", path)
		}
		p.expectPage(200, admin, path, `class="subnav"`, `<script src="/static/admin.`)
	}
}

func TestAdminUsersPageListsUsersWithTheirControls(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	admin := p.signedInAdmin()
	ann := p.addUser("ann", false)
	bob := p.addUser("bob", false)
	p.enableTwoFactor(clock, p.signIn("bob", ""))
	node, _ := p.createNode("n1", 4096, 8192)
	p.deploy(deployBody(ann, node, "25565", "25565"))

	body := p.expectPage(200, admin, "/admin/users", "<h1>Users</h1>", "ann@example.com", "root <span class=\"muted\">(you)</span>",
		`data-api="POST /api/auth/create-user"`, `data-edit-user="`+ann+`"`, `data-password-user="`+bob+`"`,
		`data-act="POST /api/users/`+bob+`/reset-2fa"`, `data-act="DELETE /api/users/`+ann+`"`, `<time datetime="`,
		`for="new-username"`, `for="edit-email"`, `for="reset-password"`)
	if strings.Contains(body, `/api/users/`+ann+`/reset-2fa`) {
		t.Error("a user without two-factor is offered a two-factor reset")
	}
	if rootID := userID(t, p, "root"); strings.Contains(body, `data-act="DELETE /api/users/`+rootID+`"`) {
		t.Error("the admin is offered to delete itself")
	}
	if !regexp.MustCompile(`data-label="Instances" class="num">1</td>`).MatchString(body) {
		t.Error("ann's one instance is not counted")
	}
	for _, name := range []string{"root", "ann", "bob"} {
		u, err := p.st.UserByUsername(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		lacks(t, "users page", body, u.PasswordHash, p.key)
	}
}

// userID is the id of the user called name.
func userID(t *testing.T, p *testPanel, name string) string {
	t.Helper()
	u, err := p.st.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestAdminNodesPageShowsLoadAndNeverAKeyOrToken(t *testing.T) {
	p := newPanel(t, panel.Config{})
	admin := p.signedInAdmin()
	user := p.createUser("ann")
	busy, key := p.createNode("busy", 4096, 8192)
	conf := p.send("", "POST", "/nodes/configure", map[string]any{"configureKey": key})
	token, _ := conf.object(t)["token"].(string)
	if conf.code != 200 || token == "" {
		t.Fatalf("configure: %d %s", conf.code, conf.body)
	}
	_, idleKey := p.createNode("idle", 2048, 1024)
	p.deploy(deployBody(user, busy, "25565", "25565"))
	p.deploy(deployBody(user, busy, "25566", "25566"))
	renewed := p.expect(200, "POST", "/api/nodes/configure-key/"+busy, nil).object(t)

	body := p.expectPage(200, admin, "/admin/nodes", "<h1>Nodes</h1>", "busy", "idle", "http://10.0.0.1:8443",
		"1.0 GiB of 4.0 GiB", "2.0 GiB of 8.0 GiB", `<progress value="1024" max="4096"`, "2 of ? cores",
		`data-act="POST /api/nodes/configure-key/`+busy+`" data-reveal="configureCommand"`, `data-act="DELETE /api/nodes/delete"`,
		`data-api="POST /api/nodes/create" data-reveal="configureCommand"`, `id="reveal-text"></code>`, `for="node-ram"`)
	if !strings.Contains(body, `data-label="Instances" class="num">2</td>`) || !strings.Contains(body, `data-label="Instances" class="num">0</td>`) {
		t.Error("the nodes' instances are not counted")
	}
	lacks(t, "nodes page", body, key, idleKey, token, renewed["configureKey"].(string), renewed["configureCommand"].(string), p.key)
}

func TestAdminKeysPageListsKeysNeverTheKey(t *testing.T) {
	p := newPanel(t, panel.Config{})
	admin := p.signedInAdmin()
	made := p.expect(201, "POST", "/api/keys", map[string]any{"name": "billing"}).object(t)
	key, id := made["key"].(string), made["id"].(string)
	p.send(key, "POST", "/api/auth/create-user", map[string]any{"username": "ann", "email": "ann@example.com", "password": userPassword})
	old := p.expect(201, "POST", "/api/keys", map[string]any{"name": "old"}).object(t)
	p.expect(204, "DELETE", "/api/keys/"+old["id"].(string), nil)

	body := p.expectPage(200, admin, "/admin/keys", "<h1>API keys</h1>", "billing", "old", "revoked",
		`href="/admin/audit?actor=`+id+`"`, `data-act="DELETE /api/keys/`+id+`"`, `data-api="POST /api/keys" data-reveal="key"`,
		`for="key-name"`)
	if strings.Contains(body, `data-act="DELETE /api/keys/`+old["id"].(string)+`"`) {
		t.Error("a revoked key is offered to be revoked again")
	}
	lacks(t, "keys page", body, key, secret.Hash(key), p.key, secret.Hash(p.key), old["key"].(string))
}

func TestAdminAuditPageFiltersAndPages(t *testing.T) {
	p := newPanel(t, panel.Config{})
	admin := p.signedInAdmin()
	ann := p.createUser("ann")
	bob := p.createUser("bob")
	p.expect(200, "PATCH", "/api/users/"+ann, map[string]any{"email": "ann@new.example"})
	p.expectAs(200, cred{cookie: admin}, "PATCH", "/api/users/"+ann, map[string]any{"admin": true}, "Sec-Fetch-Site", "same-origin")

	body := p.expectPage(200, admin, "/admin/audit", "<h1>Audit log</h1>", "user.create", "user.update",
		"API key test", `<time datetime="`, `href="/admin/audit?target=`+ann+`"`, `for="f-since"`, `for="f-actor"`)
	if strings.Contains(body, `aria-label="Pages"`) {
		t.Error("a log of one page shows paging links")
	}
	lacks(t, "audit page", body, p.key)

	byTarget := p.expectPage(200, admin, "/admin/audit?target="+ann, "<code>user.create</code>", "<code>user.update</code>")
	if strings.Contains(byTarget, `href="/admin/audit?target=`+bob+`"`) {
		t.Error("filtering by target still lists another target's entries")
	}
	filtered := p.expectPage(200, admin, "/admin/audit?target="+ann+"&action=user.update", "<code>user.update</code>")
	if strings.Contains(filtered, "<code>user.create</code>") {
		t.Error("filtering by target and action still lists user.create")
	}
	byName := p.expectPage(200, admin, "/admin/audit?actor=root", "<code>user.update</code>",
		`href="/admin/audit?actor=`+userID(t, p, "root")+`">root</a>`)
	if strings.Contains(byName, "API key test") {
		t.Error("the actor filter by username lists another actor's entries")
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	p.expectPage(200, admin, "/admin/audit?since="+future, "No entry matches these filters.")
	p.expectPage(200, admin, "/admin/audit?since=yesterday", "since: must be a time in RFC 3339")

	// Four entries, two a page: the first page links the next only, the
	// next links back to the newest.
	first := p.expectPage(200, admin, "/admin/audit?limit=2&action=user", "Older")
	next := regexp.MustCompile(`href="(/admin/audit\?[^"]*after=[^"]*)">Older`).FindStringSubmatch(first)
	if next == nil {
		t.Fatalf("the first page has no link to the next: %s", first)
	}
	second := p.expectPage(200, admin, html.UnescapeString(next[1]), "Newest")
	if got := strings.Count(first, "<tr>") + strings.Count(second, "<tr>") - 2; got != 4 {
		t.Errorf("two pages list %d entries, want 4", got)
	}
	if !strings.Contains(second, `href="/admin/audit?action=user&amp;limit=2">Newest`) {
		t.Error("the second page does not link back to the first with its filters")
	}
}

// TestAdminListsOfManyRowsRenderEveryRow renders lists of 200 users, nodes
// and keys. Each list is one query (store.UserSummaries, NodeLoads and
// APIKeyUses group their counts in a subquery), so the row count changes
// the work per row only.
func TestAdminListsOfManyRowsRenderEveryRow(t *testing.T) {
	p := newPanel(t, panel.Config{})
	admin := p.signedInAdmin()
	ctx := context.Background()
	now := time.Now()
	for i := range 200 {
		name := fmt.Sprintf("user%03d", i)
		if err := p.st.CreateUser(ctx, store.User{ID: name, Username: name, Email: name + "@example.com",
			PasswordHash: "$argon2id$x", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := p.st.CreateNode(ctx, store.Node{ID: fmt.Sprintf("node%03d", i), Name: "n", RAMMiB: 1024, DiskMiB: 1024,
			Address: "10.0.0.1", Port: 8443, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now},
			secret.Hash(name), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.st.IssueAPIKey(ctx, name, now); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]int{"/admin/users": 201, "/admin/nodes": 200, "/admin/keys": 201} {
		body := p.expectPage(200, admin, path)
		if got := strings.Count(body, "<tr>") - 1; got != want {
			t.Errorf("GET %s lists %d rows, want %d", path, got, want)
		}
	}
}

// TestAnAdminCannotDropItsOwnAdminRole: the Users page's edit dialog must
// not let the only admin lock itself out; another admin still can.
func TestAnAdminCannotDropItsOwnAdminRole(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := p.addUser("root", true)
	other := p.addUser("other", true)
	session := p.signIn("root", "")
	r := p.expectAs(409, cred{cookie: session}, "PATCH", "/api/users/"+root, map[string]any{"admin": false})
	if msg := r.errorMessage(t); !strings.HasPrefix(msg, "admin:") {
		t.Errorf("refusal %q does not name the admin field", msg)
	}
	p.expectAs(200, cred{cookie: session}, "PATCH", "/api/users/"+other, map[string]any{"admin": false})
	body := p.expectPage(200, session, "/admin/users")
	if !strings.Contains(body, `data-self`) {
		t.Error("the Users page does not mark the viewer's own row for the edit dialog")
	}
}
