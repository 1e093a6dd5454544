package panel_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/panel"
)

// adminDeployPaths are the pages of this file.
var adminDeployPaths = []string{"/admin/instances", "/admin/deploy", "/admin/templates"}

// adminSession stores an admin and a user ann, and signs the admin in.
func adminSession(p *testPanel) string {
	p.t.Helper()
	p.addUser("root", true)
	return p.signIn("root", "")
}

func TestAdminDeployPagesAreForAdminsOnly(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	ann := p.signIn("ann", "")
	root := adminSession(p)
	for _, path := range adminDeployPaths {
		p.expectSignInRedirect(path)
		body := p.expectPage(403, ann, path, "Not allowed", "for admins")
		if strings.Contains(body, "data-api=") || strings.Contains(body, "/api/images") {
			t.Errorf("GET %s as a user: the 403 page offers an admin form", path)
		}
		p.expectPage(200, root, path, "<h1>")
	}
}

// rowsOf returns the ids of the instances a list of all instances shows.
func rowsOf(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<tr><td data-label="Name"><a href="/instances/([^"]+)">`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// expectRows fails unless GET path lists exactly the instances want.
func (p *testPanel) expectRows(session, path string, want ...string) {
	p.t.Helper()
	got := rowsOf(p.expectPage(200, session, path))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		p.t.Errorf("GET %s lists %v, want %v", path, got, want)
	}
}

func TestAdminInstancesListsEveryInstanceAndFiltersOnTheServer(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := adminSession(p)
	ann, bob := p.addUser("ann", false), p.addUser("bob", false)
	eu, _ := p.createNode("eu-1", 8192, 102400)
	us, _ := p.createNode("us-1", 8192, 102400)
	deployNamed := func(name, user, node, port string) string {
		b := deployBody(user, node, port, port)
		b["name"] = name
		return p.deploy(b)
	}
	a := deployNamed("Survival", ann, eu, "25565")
	b := deployNamed("creative", bob, eu, "25566")
	c := deployNamed("survival-2", bob, us, "25565")
	p.expect(200, "POST", "/api/instances/suspend/"+b, nil)

	body := p.expectPage(200, root, "/admin/instances", "All instances", "/instances/"+a, "eu-1", "us-1", "ann", "bob",
		"10.0.0.1:25566", `data-act="unsuspend"`, `data-act="delete"`, "3 instance(s)")
	lacks(t, "all instances", body, p.key)
	p.expectRows(root, "/admin/instances", a, b, c)
	p.expectRows(root, "/admin/instances?user="+bob, b, c)
	p.expectRows(root, "/admin/instances?user=BOB", b, c)
	p.expectRows(root, "/admin/instances?user=nobody")
	p.expectRows(root, "/admin/instances?node="+eu, a, b)
	p.expectRows(root, "/admin/instances?node="+eu+"&user="+bob, b)
	p.expectRows(root, "/admin/instances?q=SURVIVAL", a, c)
	p.expectRows(root, "/admin/instances?state=suspended", b)
	p.expectRows(root, "/admin/instances?state=installing", a, b, c)
	p.expectRows(root, "/admin/instances?state=running")
	// The filters show what they hold, and a miss says so.
	p.expectPage(200, root, "/admin/instances?user=bob&q=cre&node="+eu, `value="cre"`, `value="bob"`, `<option value="`+eu+`" selected>`,
		"1 of 3 instance(s) match")
	p.expectPage(200, root, "/admin/instances?q=nothing", "No instance matches", "Clear the filters")
	p.expectPage(400, root, "/admin/instances?state=sleeping", "state: must be one of")
	p.expectPage(400, root, "/admin/instances?page=0", "page: must be a whole number")
}

func TestAdminInstancesWithNoneSaysHowToDeploy(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.expectPage(200, adminSession(p), "/admin/instances", "No instances yet", `href="/admin/deploy"`)
}

func TestAdminInstancesPageStaysUnder50KBWith100InstancesAndPagesBeyond(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := adminSession(p)
	owner := p.addUser("player-one", false)
	node, _ := p.createNode("eu-west-1", 1<<24, 1<<30)
	var ids []string
	for i := range 101 {
		b := deployBody(owner, node, fmt.Sprint(20000+i), fmt.Sprint(20000+i))
		b["name"] = fmt.Sprintf("survival-world-%03d", i)
		ids = append(ids, p.deploy(b))
	}
	body := p.expectPage(200, root, "/admin/instances", `rel="next"`, "Page 1")
	if len(rowsOf(body)) != 100 {
		t.Fatalf("the first page lists %d instances, want 100", len(rowsOf(body)))
	}
	if len(body) >= 50<<10 {
		t.Errorf("/admin/instances with 100 instances is %d bytes, want under %d", len(body), 50<<10)
	}
	t.Logf("/admin/instances with 100 instances: %d bytes", len(body))
	first := rowsOf(body)
	rest := slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(first, id) })
	p.expectRows(root, "/admin/instances?page=2", rest...)
	p.expectPage(200, root, "/admin/instances?page=2", `<a class="button" href="/admin/instances" rel="prev">Previous</a>`, "Page 2")
	p.expectPage(400, root, "/admin/instances?page=3", "page: must be at most 2")
}

func TestDeployPageSuggestsAPortFreeOnTheChosenNode(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := adminSession(p)
	ann := p.addUser("ann", false)
	full, _ := p.createNode("busy", 8192, 102400)
	empty, _ := p.createNode("idle", 4096, 10240)
	addTemplate(t, p.st, variablesTemplate)
	// 25567 is the first gap on busy; idle has only a port far above.
	p.deploy(deployBody(ann, full, "25565,1:25566,25568", "25565"))
	p.deploy(deployBody(ann, empty, "30000", "30000"))

	// The form starts on the first node listed: busy, unless both were
	// made in one millisecond and idle's id sorts first.
	nodes, err := p.st.ListNodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first := "25567"
	if nodes[0].ID == empty {
		first = "25565"
	}
	body := p.expectPage(200, root, "/admin/deploy",
		`<option value="`+full+`" data-port="25567">busy (Unconfigured): 7.5 GiB memory, 99.0 GiB disk free</option>`,
		`<option value="`+empty+`" data-port="25565">idle (Unconfigured): 3.5 GiB memory, 9.0 GiB disk free</option>`,
		`name="ports" value="`+first+`"`, `name="primary" value="`+first+`"`, first+" is the first free host port")
	lacks(t, "deploy form", body, p.key)

	// The suggestion is free: a deploy on it succeeds.
	b := deployBody(ann, full, "25567", "25567")
	b["image"], b["imagename"] = variablesTemplate.Image, variablesTemplate.Name
	p.deploy(b)
	p.expectPage(200, root, "/admin/deploy", `data-port="25569"`)
}

func TestDeployFormReflectsTheTemplatesRules(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := adminSession(p)
	p.addUser("ann", false)
	p.createNode("n1", 8192, 102400)
	tunable := addTemplate(t, p.st, variablesTemplate)
	paper := addTemplate(t, p.st, images.Template{
		Name: "Paper", Image: "ghcr.io/berth-dev/paper:1.21", AltImages: []string{"ghcr.io/berth-dev/paper:1.20"},
		Variables: map[string]images.Variable{
			"EULA":   {Name: "Accept the EULA", Description: "Mojang's terms", Required: true, OneOf: []string{"true"}},
			"RATE":   {Type: images.TypeNumber, Default: "0.5", Min: ptr(int64(0)), Max: ptr(int64(1))},
			"PVP":    {Type: images.TypeBool, Default: "true"},
			"LEVEL":  {Default: "world", Regex: "^[a-z]+$", Min: ptr(int64(3))},
			"SECRET": {Default: "x", UserEditable: ptr(false)},
		},
	})
	// Paper sorts first, so it is shown and Tunable's fields are disabled.
	body := p.expectPage(200, root, "/admin/deploy",
		`<select id="d-template" name="imagename">`, `<option value="`+paper+`" selected>Paper</option>`,
		`<option>ghcr.io/berth-dev/paper:1.20</option>`,
		// A list of allowed values is a select, with nothing chosen when there is no default.
		`<label for="v-`+paper+`-EULA">Accept the EULA <span class="muted">(required)</span></label>`,
		`name="variables.EULA" aria-describedby="v-`+paper+`-EULA-hint" required>`, `<option value="">Choose</option>`,
		"Mojang&#39;s terms · Required. One of: true.",
		`name="variables.RATE" type="number" value="0.5"`, `min="0" max="1" step="any"`, "A number from 0 to 1.",
		`name="variables.PVP"`, `<option selected>true</option><option>false</option>`,
		`name="variables.LEVEL" type="text" value="world"`, `minlength="3"`, "Text of at least 3 characters. Must match ^[a-z]&#43;$.",
		`name="variables.SECRET" type="text" value="x"`, "readonly", "Set by the template.",
		`name="variables.PLAYERS" type="number" value="10"`, `min="1" max="100" step="1" disabled>`,
		"A whole number from 1 to 100.", `name="variables.MOTD" type="text" value="hello"`, `maxlength="20" disabled>`)
	if !strings.Contains(body, `<div data-template="`+tunable+`" hidden>`) {
		t.Error("the template not chosen is shown")
	}
	// A template named in the query is chosen instead.
	p.expectPage(200, root, "/admin/deploy?template="+tunable, `<option value="`+tunable+`" selected>Tunable</option>`,
		`min="1" max="100" step="1">`)
}

func TestDeployPageWithoutTemplatesOrNodesSaysWhatIsMissing(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := adminSession(p)
	p.expectPage(200, root, "/admin/deploy", "No templates yet", `href="/admin/templates"`)
	addTemplate(t, p.st, variablesTemplate)
	p.expectPage(200, root, "/admin/deploy", "No nodes yet", `href="/admin/nodes"`)
}

func TestTemplatesPageShowsEachTemplatesVariablesAndOffersImportAndDelete(t *testing.T) {
	p := newPanel(t, panel.Config{})
	root := adminSession(p)
	p.expectPage(200, root, "/admin/templates", "No templates yet", `id="import"`, `for="import-file"`, `for="import-doc"`)
	id := addTemplate(t, p.st, paperTemplate)
	body := p.expectPage(200, root, "/admin/templates", "<h2>Paper</h2>", "Minecraft: Paper",
		"<code>ghcr.io/berth-dev/paper:1.21</code>, <code>ghcr.io/berth-dev/paper:1.20</code>",
		`data-call="DELETE /api/images/`+id+`"`, `href="/admin/deploy?template=`+id+`"`,
		"Variables (2)", "<code>EULA</code>", "accept the EULA", "Required.", "<code>server.jar</code>",
		"java -jar {{JAR}}")
	lacks(t, "templates page", body, p.key)
}

func TestAdminDeployPagesHoldNoSecret(t *testing.T) {
	c := newClientPanel(t)
	ann := c.user("ann", false)
	c.readyInstanceOf(ann, "25565")
	root := c.user("root", true)
	c.sessionFor("root", "root")
	node, err := c.st.NodeByID(context.Background(), c.nodeID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.st.UserByID(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	for path, word := range map[string]string{"/admin/instances": "test-node", "/admin/deploy": "test-node",
		"/admin/templates": "Tunable"} {
		body := c.expectPage(200, c.callers["root"].cookie, path, word)
		lacks(t, path, body, c.key, node.Token, u.PasswordHash, c.callers["root"].cookie)
	}
}
