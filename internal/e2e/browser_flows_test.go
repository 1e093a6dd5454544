package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// flowTemplate is the name of the template the flows deploy: the test game
// server, running once it prints its ready line.
const flowTemplate = "Berth test game"

// importTemplate stores, through the API, a template that runs the test
// game server image.
func (c *cluster) importTemplate(name string) {
	c.tb.Helper()
	doc := map[string]any{
		"Format": "berth/v1", "Name": name, "Description": "The game server of Berth's tests.",
		"Image": c.image, "ReadyPatterns": []string{"Server ready on port"},
	}
	c.mustCall(http.MethodPost, "/api/images", doc, http.StatusCreated, nil)
}

// fileContent reads a file of an instance through the admin file API.
func (c *cluster) fileContent(id, path string) string {
	c.tb.Helper()
	req, err := http.NewRequest(http.MethodGet, c.url+"/api/instances/files/"+url.PathEscape(id)+"/content?path="+
		url.QueryEscape(path), nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("x-api-key", c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatalf("read %s of %s: %v", path, id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.tb.Fatalf("read %s of %s = %d %s, %v; want 200", path, id, resp.StatusCode, body, err)
	}
	return string(body)
}

// choose picks, in the visible select labelled label, the option whose text
// starts with option, as a person picking from the list would.
func (b *browser) choose(label, option string) {
	b.tb.Helper()
	field := controlByLabel(label) + `.filter(c => c.getClientRects().length > 0)[0]`
	b.waitFor("a list labelled "+quote(label)+" offering "+quote(option),
		`(() => { const s = `+field+`; return !!s && [...s.options].some(o => o.text.startsWith(`+quote(option)+`)); })()`)
	eval[bool](b, `(() => {
		const s = `+field+`;
		s.value = [...s.options].find(o => o.text.startsWith(`+quote(option)+`)).value;
		s.dispatchEvent(new Event("change", { bubbles: true }));
		return true;
	})()`)
}

// clickButton clicks, with the mouse, the one visible button whose text is
// text, for a page that also links to a page of that name.
func (b *browser) clickButton(text string) {
	b.tb.Helper()
	buttons := `[...document.querySelectorAll("button")].filter(el => el.getClientRects().length > 0 && el.innerText.trim() === ` +
		quote(text) + `)`
	b.waitFor("one button "+quote(text), buttons+".length === 1")
	b.do("click the button "+quote(text), chromedp.Click(chromedp.JSPath(buttons+"[0]")))
}

// statusIs is a JavaScript condition: the page's status badge reads status.
func statusIs(status string) string {
	return `document.readyState === "complete" && document.querySelector("[data-status]") !== null &&
		document.querySelector("[data-status]").textContent.trim() === ` + quote(status)
}

// powerOffered is which power buttons of the overview are enabled, by text.
func (b *browser) powerOffered() []string {
	b.tb.Helper()
	return eval[[]string](b, `[...document.querySelectorAll("[data-power]")].filter(el => !el.disabled).map(el => el.innerText.trim())`)
}

// waitPower waits until the overview shows status and offers exactly the
// power buttons want.
func (b *browser) waitPower(timeout time.Duration, status string, want ...string) {
	b.tb.Helper()
	b.waitForWithin(timeout, "the status "+status, statusIs(status))
	offered := `JSON.stringify([...document.querySelectorAll("[data-power]")].filter(el => !el.disabled).map(el => el.innerText.trim()))`
	wanted, _ := json.Marshal(want)
	b.waitFor(fmt.Sprintf("the power buttons %v", want), offered+" === "+quote(string(wanted)))
	b.checkErrors()
}

// consoleHasLine is a JavaScript condition: the console shows a line that
// reads exactly line (or starts with it, when prefix holds).
func consoleHasLine(line string, prefix bool) string {
	match := "t === " + quote(line)
	if prefix {
		match = "t.startsWith(" + quote(line) + ")"
	}
	return `[...document.querySelectorAll("#console-out > div")].some(d => { const t = d.textContent; return ` + match + `; })`
}

// TestBrowserInstanceFlows runs, on one cluster and one instance, what
// people do in the browser, each step a subtest with its own browser: an
// admin deploys through the form for a user, who watches the console, sends
// a command, stops and starts the server, uploads and edits a file, and
// shares the instance with a subuser who sees only what was granted. Then
// every page is crawled as each of them and checked against the rules of
// every page (checkEveryPage).
func TestBrowserInstanceFlows(t *testing.T) {
	c := newCluster(t, clusterOptions{nodes: 1})
	c.importTemplate(flowTemplate)
	admin := c.addUser("admin-flows", true)
	owner := webUser{id: c.userID, name: "e2e", password: "e2e-password"}
	port := freePorts(t, 1)[0]

	var sub webUser
	if !t.Run("an admin creates a user in the browser", func(t *testing.T) {
		sub = createUserThroughForm(t, c, admin, "sub")
	}) {
		return
	}

	var id string
	if !t.Run("deploy through the admin form", func(t *testing.T) {
		id = deployThroughForm(t, c, admin, port)
	}) {
		return
	}
	t.Run("console shows output and sends commands", func(t *testing.T) {
		b := newBrowser(t, c.url)
		b.signIn(owner.name, owner.password, "")
		b.open("/instances/" + id + "/console")
		b.waitFor("the replayed ready line", consoleHasLine("Server ready on port", true))
		b.waitFor("the command line to open", `!document.getElementById("command-line").disabled`)
		b.fill("Command", "say hello from the browser")
		b.click("Send")
		b.waitFor("the game's echo of the command", consoleHasLine("hello from the browser", false))
		b.checkErrors()
	})
	t.Run("stop and start with the overview's buttons", func(t *testing.T) {
		b := newBrowser(t, c.url)
		b.signIn(owner.name, owner.password, "")
		b.open("/instances/" + id)
		b.waitPower(browserTimeout, "running", "Restart", "Stop", "Kill")
		b.click("Stop")
		b.waitPower(readyTimeout, "stopped", "Start")
		if got := c.instance(id).Status; got != "stopped" {
			t.Errorf("after Stop the API says the instance is %q, want stopped", got)
		}
		b.click("Start")
		b.waitPower(readyTimeout, "running", "Restart", "Stop", "Kill")
		if got := c.instance(id).Status; got != "running" {
			t.Errorf("after Start the API says the instance is %q, want running", got)
		}
	})
	t.Run("upload a file then edit it", func(t *testing.T) {
		uploadAndEdit(t, c, owner, id)
	})
	t.Run("a subuser sees only what was granted", func(t *testing.T) {
		grantConsoleRead(t, c, owner, sub, id)
		subuserSeesGrant(t, c, sub, id)
	})
	// Last, so that the instance's pages show what the flows left behind:
	// a running server, a file, a subuser.
	t.Run("every page keeps the rules", func(t *testing.T) {
		checkEveryPage(t, c, admin, owner, sub)
	})
}

// deployThroughForm deploys the flow template for the cluster's user with
// the admin's deploy form, watches the overview until the instance runs,
// and returns its id.
func deployThroughForm(t *testing.T, c *cluster, admin webUser, port int) string {
	t.Helper()
	b := newBrowser(t, c.url)
	b.signIn(admin.name, admin.password, "")
	b.open("/admin/deploy")
	b.fill("Name", "flow-game")
	b.choose("Owner", "e2e (")
	b.choose("Template", flowTemplate)
	b.waitText("This template has no variables.")
	b.choose("Node", "node-a")
	b.fill("Memory (MiB)", fmt.Sprint(instanceMemoryMiB))
	b.fill("CPU (cores)", fmt.Sprint(instanceCPU))
	b.fill("Ports", fmt.Sprint(port))
	b.fill("Primary port", fmt.Sprint(port))
	b.clickButton("Deploy")
	b.waitFor("the new instance's overview", `document.readyState === "complete" && /^\/instances\/[^/]+$/.test(location.pathname)`)
	id := strings.TrimPrefix(eval[string](b, "location.pathname"), "/instances/")
	c.remember(id)
	b.checkErrors()
	// The page follows the install, then the start, on its own.
	b.waitPower(readyTimeout, "running", "Restart", "Stop", "Kill")
	b.waitText("flow-game")
	if in := c.instance(id); in.InternalState != "READY" || in.Status != "running" || hostPort(t, in) != port {
		t.Errorf("the deployed instance is %s, want READY, running on port %d", in, port)
	}
	mustAnswer(t, port, browserTimeout)
	return id
}

// uploadAndEdit uploads a file with the files page's picker, edits it in
// the page's editor, and reads it back through the API. The picker stands
// for drag-and-drop too: both hand the same list to one upload function,
// and a drop of real files cannot be synthesised through DevTools.
func uploadAndEdit(t *testing.T, c *cluster, owner webUser, id string) {
	t.Helper()
	local := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(local, []byte("written before the upload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, c.url)
	b.signIn(owner.name, owner.password, "")
	b.open("/instances/" + id + "/files")
	b.do("choose the file to upload", chromedp.SetUploadFiles(chromedp.ID("upload"), []string{local}))
	b.waitFor("the uploaded file in the listing", `document.readyState === "complete" && document.querySelector('tr[data-name="notes.txt"]') !== null`)
	b.checkErrors()
	if got := c.fileContent(id, "notes.txt"); got != "written before the upload\n" {
		t.Errorf("the uploaded file holds %q", got)
	}

	b.click("notes.txt")
	b.waitFor("the editor", `document.readyState === "complete" && document.getElementById("content") !== null`)
	if got := eval[string](b, `document.getElementById("content").value`); got != "written before the upload\n" {
		t.Errorf("the editor shows %q, want the uploaded text", got)
	}
	b.fill("notes.txt", "edited in the browser")
	b.click("Save")
	b.waitText("Saved")
	if got := c.fileContent(id, "notes.txt"); got != "edited in the browser" {
		t.Errorf("after saving, the file holds %q, want the edited text", got)
	}
}

// grantConsoleRead adds sub as a subuser of the instance with only
// console.read, on the owner's subusers page.
func grantConsoleRead(t *testing.T, c *cluster, owner, sub webUser, id string) {
	t.Helper()
	b := newBrowser(t, c.url)
	b.signIn(owner.name, owner.password, "")
	b.open("/instances/" + id + "/subusers")
	b.fill("Username or email", sub.name)
	b.do("tick console.read", chromedp.Click(chromedp.JSPath(`document.getElementById("add-console.read")`)))
	b.click("Add subuser")
	b.waitText(sub.name + "@example.com")
	b.waitFor("the grant listed", `[...document.querySelectorAll(".subuser .hint")].some(p => p.textContent.trim() === "console.read")`)
	b.checkErrors()
}

// subuserSeesGrant signs in as sub and checks that it sees the instance,
// its console and activity, and nothing it was not granted.
func subuserSeesGrant(t *testing.T, c *cluster, sub webUser, id string) {
	t.Helper()
	b := newBrowser(t, c.url)
	b.signIn(sub.name, sub.password, "")
	b.waitText("flow-game")
	b.click("flow-game")
	b.waitPath("/instances/" + id)
	tabs := eval[[]string](b, `[...document.querySelectorAll("nav.tabs a")].map(a => a.innerText.trim())`)
	if want := []string{"Overview", "Console", "Activity"}; !slices.Equal(tabs, want) {
		t.Errorf("the subuser's tabs are %q, want %q", tabs, want)
	}
	if got := b.powerOffered(); len(got) != 0 {
		t.Errorf("the subuser is offered the power buttons %q, want none", got)
	}
	b.waitText("that takes the power permission")

	b.open("/instances/" + id + "/console")
	b.waitFor("the console's output", consoleHasLine("Server ready on port", true))
	if !eval[bool](b, `document.getElementById("command-line").disabled`) {
		t.Error("the subuser without console.write may type in the console")
	}
	b.open("/instances/" + id + "/activity")

	for _, page := range []string{"files", "settings", "subusers"} {
		path := "/instances/" + id + "/" + page
		if status := b.load(path); status != http.StatusNotFound && status != http.StatusForbidden {
			t.Errorf("GET %s as the subuser: status %d, want 404 or 403", path, status)
		}
		b.checkErrors()
	}
}

// createUserThroughForm signs admin in, creates a plain user named name on
// the Users page, and checks that the user exists and can sign in.
func createUserThroughForm(t *testing.T, c *cluster, admin webUser, name string) webUser {
	b := newBrowser(t, c.url)
	b.signIn(admin.name, admin.password, "")
	b.open("/admin/users")
	b.fill("Username", name)
	b.fill("Email", name+"@example.com")
	b.fill("Password", browserPassword)
	b.click("Create user")
	b.waitFor("the new user in the list", `[...document.querySelectorAll("#users td")].some((td) => td.textContent.trim() === `+quote(name)+`)`)
	b.checkErrors()
	var users []struct {
		UserID   string `json:"userId"`
		Username string `json:"username"`
		Admin    bool   `json:"admin"`
	}
	c.mustCall(http.MethodGet, "/api/users", nil, http.StatusOK, &users)
	for _, u := range users {
		if u.Username == name {
			if u.Admin {
				t.Errorf("the user made on the Users page is an admin")
			}
			signedIn := newBrowser(t, c.url)
			signedIn.signIn(name, browserPassword, "")
			signedIn.waitText("Your instances")
			signedIn.checkErrors()
			return webUser{id: u.UserID, name: name, password: browserPassword}
		}
	}
	t.Fatalf("the Users page's form made no user %q: %+v", name, users)
	return webUser{}
}
