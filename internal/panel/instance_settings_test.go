package panel_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/images"
)

// startupTemplate's start command uses a variable, a built-in and a name
// that is neither.
var startupTemplate = images.Template{
	Name: "Startable", Image: "ghcr.io/berth-dev/game:1", StopCommand: "stop",
	Startup: "java -Xmx{{SERVER_MEMORY}}M -jar {{JAR}} --port {{SERVER_PORT}} {{UNKNOWN}}",
	Variables: map[string]images.Variable{
		"JAR": {Default: "server.jar", Required: true, Min: ptr(int64(3)), Max: ptr(int64(16)), OneOf: []string{"server.jar", "paper.jar"}},
	},
}

func TestRenameChangesTheNameAndRecordsIt(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	got := c.expectAs(200, "owner", "PATCH", "/api/client/instances/"+id, map[string]any{"name": "  Creative  "}).object(t)
	if got["Name"] != "Creative" || got["permissions"] == nil {
		t.Errorf("rename answered %v, want the instance named Creative with its permissions", got)
	}
	if name := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id, nil).object(t)["Name"]; name != "Creative" {
		t.Errorf("after the rename the instance is named %v", name)
	}
	page := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/activity?action=instance.rename", nil).object(t)
	entries, _ := page["data"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["detail"] != "Creative" {
		t.Errorf("activity of the rename: %v", page["data"])
	}
}

func TestRenameRefusesABadNameNamingTheField(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	for _, body := range []any{
		map[string]any{},
		map[string]any{"name": "   "},
		map[string]any{"name": strings.Repeat("n", 101)},
		map[string]any{"name": "bad\nname"},
		map[string]any{"name": []string{"x"}},
		"{",
	} {
		r := c.do(clientRequest{method: "PATCH", path: "/api/client/instances/" + id, as: "owner", body: body})
		if msg := r.errorMessage(t); r.code != 400 || (!strings.HasPrefix(msg, "name: ") && body != "{") {
			t.Errorf("rename with %v: %d %q, want 400 naming name", body, r.code, msg)
		}
	}
	if name := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id, nil).object(t)["Name"]; name != "survival" {
		t.Errorf("refused renames left the name %v", name)
	}
}

func TestRenameTakesTheSettingsPermission(t *testing.T) {
	c := newClientPanel(t)
	owner, friend := c.user("owner", false), c.user("friend", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("friend", "friend")
	c.grant(id, friend, access.FilesRead, access.FilesWrite, access.Power)
	c.expectAs(403, "friend", "PATCH", "/api/client/instances/"+id, map[string]any{"name": "mine"})
	c.grant(id, friend, access.Settings)
	c.expectAs(200, "friend", "PATCH", "/api/client/instances/"+id, map[string]any{"name": "mine"})
}

func TestVariablesAnswerTheStartupLineWithTheBuiltInsFilledIn(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	addTemplate(t, c.st, startupTemplate)
	body := deployBody(owner, c.nodeID, "25565", "25565")
	body["image"] = startupTemplate.Name
	id := c.deploy(body)
	c.sessionFor("owner", "owner")
	got := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/variables", nil).object(t)
	want := "java -Xmx512M -jar {{JAR}} --port 25565 {{UNKNOWN}}"
	if got["startup"] != want {
		t.Errorf("startup = %q, want %q", got["startup"], want)
	}
	put := c.expectAs(200, "owner", "PUT", "/api/client/instances/"+id+"/variables",
		map[string]any{"variables": map[string]string{"JAR": "paper.jar"}}).object(t)
	if put["startup"] != want {
		t.Errorf("the change answered startup %q, want %q", put["startup"], want)
	}
	// An instance of a bare image keeps the image's command.
	bare := c.deploy(deployBody(owner, c.nodeID, "25566", "25566"))
	if s := c.expectAs(200, "owner", "GET", "/api/client/instances/"+bare+"/variables", nil).object(t)["startup"]; s != "" {
		t.Errorf("a bare image's startup = %q, want empty", s)
	}
}

func TestDiskAnswersUseAndLimitToFilesReaders(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	got := c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/disk", nil).object(t)
	if got["id"] != id || got["limitBytes"] != float64(1024<<20) {
		t.Errorf("disk = %v, want the instance's id and a limit of 1 GiB", got)
	}
}
