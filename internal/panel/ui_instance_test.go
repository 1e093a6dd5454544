package panel_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/store"
)

// powerButtonTag finds the overview's power buttons.
var powerButtonTag = regexp.MustCompile(`<button[^>]*data-power="(\w+)"[^>]*>`)

// powerButtons reads the overview's power buttons: each action, and
// whether it is enabled. It fails unless all four are shown.
func powerButtons(t *testing.T, body string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, m := range powerButtonTag.FindAllStringSubmatch(body, -1) {
		got[m[1]] = !regexp.MustCompile(`\sdisabled[\s>]`).MatchString(m[0])
	}
	for _, a := range []string{"start", "stop", "restart", "kill"} {
		if _, ok := got[a]; !ok {
			t.Fatalf("the overview lacks the %s button: %v", a, got)
		}
	}
	return got
}

// expectEnabled fails unless exactly the actions in want are enabled.
func expectEnabled(t *testing.T, what string, buttons map[string]bool, want ...string) {
	t.Helper()
	for action, enabled := range buttons {
		wanted := false
		for _, w := range want {
			wanted = wanted || w == action
		}
		if enabled != wanted {
			t.Errorf("%s: %s enabled %v, want %v", what, action, enabled, wanted)
		}
	}
}

// nodeToken is the bearer token the panel sends c's node.
func (c *clientPanel) nodeToken() string {
	c.t.Helper()
	n, err := c.st.NodeByID(context.Background(), c.nodeID)
	if err != nil || n.Token == "" {
		c.t.Fatalf("node %s: %v, token %q", c.nodeID, err, n.Token)
	}
	return n.Token
}

func TestOverviewOffersThePowerActionsOfARunningServerAndItsCharts(t *testing.T) {
	c := newClientPanel(t)
	ann := c.user("ann", false)
	id := c.readyInstanceOf(ann, "25601")
	c.sessionFor("ann", "ann")
	body := c.expectPage(200, c.callers["ann"].cookie, "/instances/"+id, "<h1>survival</h1>", `data-status>running<`,
		"127.0.0.1:25601", `data-chart="cpu"`, `data-chart="memory"`, `data-chart="network"`, "/static/overview.", "/static/live.",
		`href="/instances/`+id+`/console"`)
	expectEnabled(t, "running, owner", powerButtons(t, body), "restart", "stop", "kill")
	if strings.Count(body, "<h1") != 1 {
		t.Error("the overview has more or less than one h1")
	}
	lacks(t, "overview", body, c.key, c.nodeToken())
}

func TestOverviewOfAStoppedServerOffersOnlyStart(t *testing.T) {
	c := newClientPanel(t)
	ann := c.user("ann", false)
	id := c.readyInstanceOf(ann, "25601")
	c.sessionFor("ann", "ann")
	c.expectAs(200, "ann", "POST", "/api/client/instances/"+id+"/power", map[string]any{"action": "stop"})
	body := c.expectPage(200, c.callers["ann"].cookie, "/instances/"+id, `data-status>stopped<`)
	expectEnabled(t, "stopped, owner", powerButtons(t, body), "start")
}

func TestOverviewShowsDisabledPowerButtonsToAViewerWithoutPower(t *testing.T) {
	c := newClientPanel(t)
	id := c.readyInstanceOf(c.user("ann", false), "25601")
	bob := c.user("bob", false)
	c.grant(id, bob, access.ConsoleRead)
	c.sessionFor("bob", "bob")
	body := c.expectPage(200, c.callers["bob"].cookie, "/instances/"+id, "takes the power permission", `data-chart="cpu"`)
	expectEnabled(t, "no power", powerButtons(t, body))
}

func TestOverviewDrawsNoChartsWithoutConsoleRead(t *testing.T) {
	c := newClientPanel(t)
	id := c.readyInstanceOf(c.user("ann", false), "25601")
	cy := c.user("cy", false)
	c.grant(id, cy, access.Power, access.FilesRead)
	c.sessionFor("cy", "cy")
	body := c.expectPage(200, c.callers["cy"].cookie, "/instances/"+id, "ask the owner for the console.read permission")
	for _, no := range []string{"data-chart=", "data-live", `/console"`} {
		if strings.Contains(body, no) {
			t.Errorf("a viewer without console.read gets %q on the overview", no)
		}
	}
	expectEnabled(t, "running, power only", powerButtons(t, body), "restart", "stop", "kill")
}

func TestOverviewBlocksPowerWhileTheInstanceCannotTakeIt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		set   func(c *clientPanel, id string)
		ready bool
		words []string
	}{
		{name: "installing", words: []string{"being installed", `id="install-log"`, "INSTALLING"}},
		{name: "failed", set: func(c *clientPanel, id string) {
			if err := c.st.MarkFailed(ctx, id, "image pull failed: no such image"); err != nil {
				t.Fatal(err)
			}
		}, words: []string{"The install failed", "image pull failed: no such image", `id="install-log"`}},
		{name: "suspended", ready: true, set: func(c *clientPanel, id string) {
			if _, err := c.st.SetSuspended(ctx, id, true); err != nil {
				t.Fatal(err)
			}
		}, words: []string{"is suspended", "data-suspended"}},
		{name: "node offline", ready: true, set: func(c *clientPanel, id string) {
			if err := c.st.SetNodeHealth(ctx, c.nodeID, store.NodeOffline, "", 0, time.Now()); err != nil {
				t.Fatal(err)
			}
		}, words: []string{"node is offline", `data-status>offline<`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClientPanel(t)
			ann := c.user("ann", false)
			var id string
			if tc.ready {
				id = c.readyInstanceOf(ann, "25601")
			} else {
				body := deployBody(ann, c.nodeID, "25601", "25601")
				id = c.deploy(body)
			}
			if tc.set != nil {
				tc.set(c, id)
			}
			c.sessionFor("ann", "ann")
			body := c.expectPage(200, c.callers["ann"].cookie, "/instances/"+id, tc.words...)
			expectEnabled(t, tc.name, powerButtons(t, body))
		})
	}
}

func TestOverviewIsNotFoundForAStrangerOrAnUnknownInstance(t *testing.T) {
	c := newClientPanel(t)
	id := c.readyInstanceOf(c.user("ann", false), "25601")
	c.user("dan", false)
	c.sessionFor("dan", "dan")
	for _, path := range []string{"/instances/" + id, "/instances/" + id + "/console", "/instances/nosuch"} {
		body := c.expectPage(404, c.callers["dan"].cookie, path, "Not found")
		if strings.Contains(body, "survival") {
			t.Errorf("GET %s as a stranger names the instance", path)
		}
	}
	c.expectSignInRedirect("/instances/" + id)
	c.expectSignInRedirect("/instances/" + id + "/console")
}

func TestConsolePageTakesConsoleReadAndOffersTypingToConsoleWrite(t *testing.T) {
	c := newClientPanel(t)
	ann := c.user("ann", false)
	id := c.readyInstanceOf(ann, "25601")
	path := "/instances/" + id + "/console"

	c.sessionFor("ann", "ann")
	body := c.expectPage(200, c.callers["ann"].cookie, path, `id="console-out"`, `for="command-line"`, "data-write",
		"/static/console.", "/static/live.", `data-instance="`+id+`"`)
	lacks(t, "console page", body, c.key, c.nodeToken())

	bob := c.user("bob", false)
	c.grant(id, bob, access.ConsoleRead)
	c.sessionFor("bob", "bob")
	body = c.expectPage(200, c.callers["bob"].cookie, path, `id="console-out"`, "takes the console.write permission")
	if strings.Contains(body, "data-write") {
		t.Error("a viewer without console.write is offered the command line")
	}

	cy := c.user("cy", false)
	c.grant(id, cy, access.ConsoleWrite, access.Power)
	c.sessionFor("cy", "cy")
	body = c.expectPage(403, c.callers["cy"].cookie, path, "Not allowed")
	if strings.Contains(body, "console-out") {
		t.Error("the 403 page holds the console")
	}
}

func TestOverviewShowsSFTPAccessToThoseWhoHoldSFTP(t *testing.T) {
	c := newClientPanel(t)
	id := c.readyInstanceOf(c.user("ann.smith", false), "25601")
	bob := c.user("bob", false)
	c.grant(id, bob, access.ConsoleRead)
	c.sessionFor("ann", "ann.smith")
	c.sessionFor("bob", "bob")
	// The node serves no SFTP yet: nothing to show.
	body := c.expectPage(200, c.callers["ann"].cookie, "/instances/"+id)
	if strings.Contains(body, `id="sftp-title"`) {
		t.Error("the overview shows SFTP access to a node that serves none")
	}
	if err := c.st.SetNodeSFTPPort(context.Background(), c.nodeID, 2022); err != nil {
		t.Fatal(err)
	}
	c.expectPage(200, c.callers["ann"].cookie, "/instances/"+id, `id="sftp-title"`,
		"<code>sftp://127.0.0.1:2022</code>", "<code>ann.smith."+id+"</code>")
	if body := c.expectPage(200, c.callers["bob"].cookie, "/instances/"+id); strings.Contains(body, `id="sftp-title"`) {
		t.Error("the overview shows SFTP access to a subuser without the sftp permission")
	}
}
