package panel_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// dataPages is a client panel with an instance of owner's holding a few
// files, and sessions for its owner ("owner"), a subuser who may only
// read files ("reader") and a stranger ("stranger").
type dataPages struct {
	*clientPanel
	id string
}

func newDataPages(t *testing.T) dataPages {
	t.Helper()
	c := newClientPanel(t)
	owner, reader := c.user("owner", false), c.user("reader", false)
	c.user("stranger", false)
	id := c.readyInstanceOf(owner, "25565")
	c.grant(id, reader, access.FilesRead)
	for _, who := range []string{"owner", "reader", "stranger"} {
		c.sessionFor(who, who)
	}
	root := dataDir(c.node, id)
	for name, content := range map[string]string{
		"server.properties": "motd=<b>Hello</b>\n",
		"plugins/a.jar":     "jar",
		"world.tar.gz":      "not really",
		"logo.png":          "\x89PNG\x00\x01",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dataPages{clientPanel: c, id: id}
}

// pageAs loads path as caller who, failing unless it answers code with
// every one of words; it checks no page holds the admin key or the
// node's token.
func (d dataPages) pageAs(code int, who, path string, words ...string) string {
	d.t.Helper()
	body := d.expectPage(code, d.callers[who].cookie, path, words...)
	n, err := d.st.NodeByID(d.t.Context(), d.nodeID)
	if err != nil {
		d.t.Fatal(err)
	}
	lacks(d.t, path, body, d.key, n.Token)
	return body
}

// without fails when body holds any of words.
func without(t *testing.T, what, body string, words ...string) {
	t.Helper()
	for _, w := range words {
		if strings.Contains(body, w) {
			t.Errorf("%s holds %q", what, w)
		}
	}
}

func TestFilesPageListsFoldersFirstWithTheOwnersControls(t *testing.T) {
	d := newDataPages(t)
	body := d.pageAs(200, "owner", "/instances/"+d.id+"/files", "<h1>survival</h1>", `aria-current="page">Files<`,
		`href="/instances/`+d.id+`/files?path=%2Fplugins"`, `href="/instances/`+d.id+`/files?file=%2Fserver.properties"`,
		`href="/api/client/instances/`+d.id+`/files/download?path=server.properties" download`,
		`data-act="mkdir"`, `data-act="rename"`, `data-act="delete"`, `data-act="compress"`, `data-act="extract"`,
		`id="upload"`, `id="dropzone"`, `data-url="/api/client/instances/`+d.id+`/disk"`, "<time datetime=", "/static/files.")
	if strings.Index(body, "plugins/") > strings.Index(body, "logo.png") {
		t.Error("the folder plugins is not listed before the files")
	}
	if n := strings.Count(body, `data-act="extract"`); n != 1 {
		t.Errorf("%d extract buttons, want 1 (for world.tar.gz)", n)
	}
	d.pageAs(200, "owner", "/instances/"+d.id+"/files?path=/plugins", "a.jar",
		`<a href="/instances/`+d.id+`/files">Files</a>`, `aria-current="page">plugins<`)
}

func TestFilesPageOffersAReaderNoChanges(t *testing.T) {
	d := newDataPages(t)
	body := d.pageAs(200, "reader", "/instances/"+d.id+"/files", "server.properties", "/files/download?path=server.properties")
	without(t, "a reader's files page", body, `data-act=`, `id="upload"`, `id="dropzone"`, `data-select`,
		`/settings"`, `/subusers"`, `/activity"`)
	editor := d.pageAs(200, "reader", "/instances/"+d.id+"/files?file=/server.properties", "readonly", "You may read this file")
	without(t, "a reader's editor", editor, `type="submit"`)
	for _, tab := range []string{"settings", "subusers", "activity"} {
		d.pageAs(403, "reader", "/instances/"+d.id+"/"+tab)
	}
}

func TestFilesEditorShowsTextEscapedAndRefusesBinaryAndLargeFiles(t *testing.T) {
	d := newDataPages(t)
	body := d.pageAs(200, "owner", "/instances/"+d.id+"/files?file=/server.properties", `<textarea id="content"`,
		"motd=&lt;b&gt;Hello&lt;/b&gt;", `data-path="server.properties"`, `<button type="submit" class="primary">Save</button>`,
		`href="/instances/`+d.id+`/files?path=/"`)
	without(t, "the owner's editor", body, "<b>Hello", "readonly")
	// The parser drops a newline right after <textarea>: the page puts one
	// there, so that a file's own first line survives, even an empty one.
	if !strings.Contains(body, "spellcheck=\"false\" autocapitalize=\"off\" >\nmotd=") {
		t.Error("the file's content does not follow the textarea's opening newline")
	}
	binary := d.pageAs(200, "owner", "/instances/"+d.id+"/files?file=/logo.png", "is not text",
		`href="/api/client/instances/`+d.id+`/files/download?path=logo.png" download`)
	without(t, "a binary file's page", binary, "<textarea")

	big := filepath.Join(dataDir(d.node, d.id), "big.log")
	if err := os.WriteFile(big, make([]byte, nodeapi.MaxFileContentBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	large := d.pageAs(200, "owner", "/instances/"+d.id+"/files?file=/big.log", "/files/download?path=big.log")
	without(t, "a large file's page", large, "<textarea")
	if !strings.Contains(large, "This file is larger than") {
		t.Error("a large file's page does not say it is too large")
	}
}

func TestFilesPageTellsABadPathOnThePage(t *testing.T) {
	d := newDataPages(t)
	d.pageAs(200, "owner", "/instances/"+d.id+"/files?path=/a/../../etc", "must not contain", "Back to the instance")
	d.pageAs(200, "owner", "/instances/"+d.id+"/files?path=/nowhere", `role="alert"`, "Back to the instance")
	d.pageAs(200, "owner", "/instances/"+d.id+"/files?file=/", "names no file")
}

func TestDownloadTakesTheSessionCookieAndNamesTheFile(t *testing.T) {
	d := newDataPages(t)
	r := d.do(clientRequest{method: "GET", path: "/api/client/instances/" + d.id + "/files/download?path=plugins/a.jar", as: "reader"})
	if r.code != 200 || string(r.body) != "jar" {
		t.Fatalf("download with the session cookie: %d %q", r.code, r.body)
	}
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "a.jar") {
		t.Errorf("Content-Disposition = %q, want an attachment named a.jar", cd)
	}
}

func TestDataPagesAreNotFoundForAStrangerAndSignInForNobody(t *testing.T) {
	d := newDataPages(t)
	for _, tab := range []string{"files", "settings", "subusers", "activity"} {
		d.pageAs(404, "stranger", "/instances/"+d.id+"/"+tab, "Not found")
		d.expectSignInRedirect("/instances/" + d.id + "/" + tab)
	}
}

func TestSettingsPageShowsRulesLockedVariablesAndTheStartupPreview(t *testing.T) {
	d := newDataPages(t)
	owner, _ := d.st.UserByUsername(t.Context(), "owner")
	addTemplate(t, d.st, startupTemplate)
	body := deployBody(owner.ID, d.nodeID, "25570", "25570")
	body["image"] = startupTemplate.Name
	id := d.deploy(body)
	page := d.pageAs(200, "owner", "/instances/"+id+"/settings", `data-api="PATCH /api/client/instances/`+id+`"`,
		`name="name" value="survival"`, `data-api="PUT /api/client/instances/`+id+`/variables"`,
		`name="variables.JAR"`, "Rules: required, 3–16 characters, one of server.jar, paper.jar<",
		`<option value="paper.jar"`, "java -Xmx512M -jar server.jar --port 25570 {{UNKNOWN}}",
		`data-template="java -Xmx512M -jar {{JAR}} --port 25570 {{UNKNOWN}}"`, "/static/settings.")
	without(t, "the settings page", page, "Locked")

	// variablesTemplate's LICENSE is locked, PLAYERS a bounded number.
	locked := d.pageAs(200, "owner", "/instances/"+d.id+"/settings", "Locked: only an admin sets it.",
		"Rules: a whole number, from 1 to 100<", "Rules: at most 20 characters<")
	if !regexp.MustCompile(`name="variables.LICENSE"[^>]*disabled`).MatchString(locked) {
		t.Error("the locked variable LICENSE is not disabled")
	}
	without(t, "settings of an instance without a start command", locked, `id="startup"`)
}

func TestSubusersPageListsGrantsWithEveryPermissionExplained(t *testing.T) {
	d := newDataPages(t)
	page := d.pageAs(200, "owner", "/instances/"+d.id+"/subusers", "reader", "reader@example.com",
		`data-api="POST /api/client/instances/`+d.id+`/subusers"`, `for="user"`,
		`data-call="DELETE /api/client/instances/`+d.id+`/subusers/`, `data-confirm="Remove reader?`,
		`data-api="PUT /api/client/instances/`+d.id+`/subusers/`)
	for _, p := range access.All {
		if n := strings.Count(page, `value="`+string(p)+`" data-type="list"`); n != 2 {
			t.Errorf("permission %s is offered %d times, want 2 (add and edit)", p, n)
		}
	}
	if !regexp.MustCompile(`value="files.read" data-type="list" checked`).MatchString(page) {
		t.Error("the reader's files.read is not checked")
	}
	if n := strings.Count(page, "checked"); n != 1 {
		t.Errorf("%d permissions are checked, want 1 (the reader's files.read)", n)
	}
	for _, help := range []string{"List, open and download files", "Add, change and remove subusers"} {
		if !strings.Contains(page, help) {
			t.Errorf("the page lacks the explanation %q", help)
		}
	}
	d.expectAs(204, "owner", "DELETE", "/api/client/instances/"+d.id+"/subusers/"+d.userID("reader"), nil)
	d.pageAs(200, "owner", "/instances/"+d.id+"/subusers", "No subusers yet")
}

// userID is the id of the user named name.
func (d dataPages) userID(name string) string {
	d.t.Helper()
	u, err := d.st.UserByUsername(d.t.Context(), name)
	if err != nil {
		d.t.Fatal(err)
	}
	return u.ID
}

func TestActivityPageShowsEntriesAsTimesAndPages(t *testing.T) {
	d := newDataPages(t)
	d.pageAs(200, "owner", "/instances/"+d.id+"/activity?action=instance.nothing", "Nothing has happened")
	for _, name := range []string{"first", "second"} {
		d.expectAs(200, "owner", "PATCH", "/api/client/instances/"+d.id, map[string]any{"name": name})
	}
	page := d.pageAs(200, "owner", "/instances/"+d.id+"/activity?limit=1", "<code>instance.rename</code>", `data-label="Detail">second<`,
		"<time datetime=", `data-label="Who">owner<`)
	without(t, "the first page", page, `data-label="Detail">first<`, "Newest")
	older := regexp.MustCompile(`href="(/instances/[^"]+/activity\?after=[^"]+)"`).FindStringSubmatch(page)
	if older == nil {
		t.Fatal("the first page of one entry links no older page")
	}
	next := d.pageAs(200, "owner", strings.ReplaceAll(older[1], "&amp;", "&"), `data-label="Detail">first<`, "Newest")
	without(t, "the second page", next, `data-label="Detail">second<`)
	d.pageAs(400, "owner", "/instances/"+d.id+"/activity?after=nonsense")
}

// TestSubusersPageOffersOnlyWhatTheViewerMayGrant: a subuser who manages
// subusers sees the permissions it lacks, but cannot tick them.
func TestSubusersPageOffersOnlyWhatTheViewerMayGrant(t *testing.T) {
	d := newDataPages(t)
	d.grant(d.id, d.userID("reader"), access.FilesRead, access.Subusers)
	page := d.pageAs(200, "reader", "/instances/"+d.id+"/subusers")
	for _, p := range access.All {
		held := p == access.FilesRead || p == access.Subusers
		disabled := strings.Contains(page, `value="`+string(p)+`" data-type="list" disabled`)
		if held == disabled {
			t.Errorf("permission %s: disabled %v in the add form, want %v", p, disabled, !held)
		}
	}
}
