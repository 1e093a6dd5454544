package panel_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/panel"
)

// imageFields are the fields of an image in GET /api/images and in the
// answer of POST /api/images: the seed's, then Berth's additions.
var imageFields = []string{"Id", "Name", "Description", "Author", "Image", "AltImages", "Env", "Variables",
	"StopCommand", "Startup", "Scripts", "Format", "ReadyPatterns", "MountPath", "features"}

// imgSkyport is a Skyport "Images v2" document.
const imgSkyport = `{
  "Name": "Spigot", "Author": "ops@example.com", "Image": "ghcr.io/example/java:21",
  "AltImages": ["ghcr.io/example/java:17"], "Env": ["START=java -jar server.jar"], "StopCommand": "stop",
  "features": ["eula"],
  "Scripts": {"Install": [{"Uri": "https://dl.example.com/spigot-{{Version}}.jar", "Path": "server.jar"}]},
  "Variables": {"Version": {"type": "text", "default": "1.21", "required": true}}
}`

// imgEgg is a PTDL_v2 egg whose variables carry Laravel rules.
const imgEgg = `{
  "meta": {"version": "PTDL_v2"}, "name": "Rules Egg", "author": "eggs@example.org", "description": "d",
  "docker_images": {"Default": "ghcr.io/example/yolks:debian", "Alt": "ghcr.io/example/yolks:ubuntu"},
  "startup": "./server -m {{SERVER_MEMORY}} -p {{SERVER_PORT}} -n {{SLOTS}}",
  "config": {"files": "{}", "startup": "{\"done\": \"ready\"}", "logs": "{}", "stop": "^C"},
  "scripts": {"installation": {"script": "#!/bin/bash\necho hi", "container": "debian:bookworm-slim", "entrypoint": "bash"}},
  "variables": [
    {"name": "Slots", "env_variable": "SLOTS", "default_value": "10", "user_editable": true, "rules": "required|integer|between:1,64"},
    {"name": "Level", "env_variable": "LEVEL", "default_value": "world", "user_editable": true, "rules": "required|regex:/^[a-z]+$/"},
    {"name": "Edition", "env_variable": "EDITION", "default_value": "community", "user_editable": false, "rules": "required|in:community,pro"}
  ]
}`

// imgBerth is a template in Berth's own format.
const imgBerth = `{"Format": "berth/v1", "Name": "Own", "Image": "busybox", "Startup": "sleep 1000",
  "ReadyPatterns": ["regex:^up$"], "Variables": {"MODE": {"default": "a", "oneOf": ["a", "b"]}}}`

// imgCount is how many templates the panel stores.
func imgCount(t *testing.T, p *testPanel) int {
	t.Helper()
	list, err := p.st.ListTemplates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// imgCreate posts doc and returns the stored image from the 201 answer.
func imgCreate(t *testing.T, p *testPanel, doc string) map[string]any {
	t.Helper()
	img := p.expect(201, "POST", "/api/images", doc).object(t)
	if id, _ := img["Id"].(string); id == "" {
		t.Fatalf("POST /api/images answered no Id: %v", img)
	}
	return img
}

func TestCreateImageImportsEachFormatAndAnswers201(t *testing.T) {
	p := newPanel(t, panel.Config{})
	for _, tc := range []struct{ doc, name, image string }{
		{imgSkyport, "Spigot", "ghcr.io/example/java:21"},
		{imgEgg, "Rules Egg", "ghcr.io/example/yolks:debian"},
		{imgBerth, "Own", "busybox"},
	} {
		img := imgCreate(t, p, tc.doc)
		hasKeys(t, "created image", img, imageFields...)
		if img["Name"] != tc.name || img["Image"] != tc.image || img["Format"] != "berth/v1" {
			t.Errorf("created image = %v, want Name %q Image %q in Berth's format", img, tc.name, tc.image)
		}
		p.expectAudit("image.create", img["Id"].(string))
		// The list shows exactly what the create answered.
		listed := indexBy(t, p.expect(200, "GET", "/api/images", nil).array(t), "Id")[img["Id"].(string)]
		if !reflect.DeepEqual(listed, img) {
			t.Errorf("GET /api/images shows\n%v\nPOST answered\n%v", listed, img)
		}
	}
	if n := imgCount(t, p); n != 3 {
		t.Errorf("%d templates stored, want 3", n)
	}
}

func TestCreateImageConvertsAnEgg(t *testing.T) {
	p := newPanel(t, panel.Config{})
	img := imgCreate(t, p, imgEgg)
	if img["StopCommand"] != "^SIGINT" || img["MountPath"] != "/home/container" {
		t.Errorf("StopCommand %v MountPath %v, want ^SIGINT and /home/container", img["StopCommand"], img["MountPath"])
	}
	if got := img["ReadyPatterns"]; !reflect.DeepEqual(got, []any{"ready"}) {
		t.Errorf("ReadyPatterns = %v, want [ready]", got)
	}
	slots := img["Variables"].(map[string]any)["SLOTS"].(map[string]any)
	if slots["type"] != "int" || slots["min"] != 1.0 || slots["max"] != 64.0 || slots["required"] != true {
		t.Errorf("SLOTS = %v, want a required int from 1 to 64", slots)
	}
	installer := img["Scripts"].(map[string]any)["Installer"].(map[string]any)
	if installer["Image"] != "debian:bookworm-slim" || installer["Entrypoint"] != "bash" {
		t.Errorf("Installer = %v", installer)
	}
}

func TestCreateImageRejectsBadDocumentsNamingTheField(t *testing.T) {
	p := newPanel(t, panel.Config{})
	before, count := p.snapshot(), imgCount(t, p)
	for _, tc := range []struct {
		doc   string
		words []string
	}{
		{`{"meta": {"version": "PTDL_v9"}, "name": "x"}`, []string{"meta.version", "PTDL_v9"}},
		{`{"meta": {"version": "PTDL_v2"}, "name": "x", "docker_images": {"w": "mcr.microsoft.com/windows/nanoserver:ltsc2022"}}`,
			[]string{"docker_images", "Windows", "cannot run on Berth"}},
		{`{"meta": {"version": "PTDL_v2"}, "name": "x", "docker_images": {"a": "alpine"},
		   "variables": [{"env_variable": "A", "rules": "required|max:many"}]}`, []string{"variables[0].rules", "max:many"}},
		{"meta: [unclosed", []string{"document", "YAML"}},
		{`{"Name": "x", "Image": "alpine", "Scripts": {"Install": [{"Uri": "http://x.example/a", "Path": "a"}]}}`, []string{"Scripts.Install[0].Uri", "https"}},
		{`{"Name": "x", "Image": "Not An Image"}`, []string{"Image"}},
		{`{"Format": "berth/v1", "Name": "x", "Image": "alpine", "Startp": "typo"}`, []string{"Startp"}},
		{`{"Format": "berth/v1", "Name": "", "Image": "alpine"}`, []string{"Name", "required"}},
		{`{"title": "not a template"}`, []string{"document"}},
		{`[1, 2]`, []string{"document"}},
		{`{"Name": `, []string{"document", "JSON"}},
		{``, []string{"document"}},
	} {
		p.expectError(400, "POST", "/api/images", tc.doc, tc.words...)
	}
	p.expectUnchanged(before)
	if n := imgCount(t, p); n != count {
		t.Errorf("rejected imports stored templates: %d, want %d", n, count)
	}
}

func TestCreateImageRejectsATakenNameIgnoringCase(t *testing.T) {
	p := newPanel(t, panel.Config{})
	imgCreate(t, p, imgBerth)
	before := p.snapshot()
	p.expectError(409, "POST", "/api/images", strings.Replace(imgBerth, `"Own"`, `"OWN"`, 1), `"Own"`, "already exists", "replace")
	p.expectUnchanged(before)
	if n := imgCount(t, p); n != 1 {
		t.Errorf("%d templates stored, want 1", n)
	}
}

func TestCreateImageOver1MiBAnswers413(t *testing.T) {
	p := newPanel(t, panel.Config{})
	doc := `{"Format": "berth/v1", "Name": "Big", "Image": "alpine", "Description": "` + strings.Repeat("x", 1<<20) + `"}`
	p.expectError(413, "POST", "/api/images", doc)
	if n := imgCount(t, p); n != 0 {
		t.Errorf("%d templates stored, want 0", n)
	}
}

func TestImageMutationsRequireAKey(t *testing.T) {
	p := newPanel(t, panel.Config{})
	id := imgCreate(t, p, imgBerth)["Id"].(string)
	for _, r := range []response{
		p.send("", "POST", "/api/images", imgSkyport),
		p.send("", "DELETE", "/api/images/"+id, nil),
		p.send("berth_wrong", "DELETE", "/api/images/"+id, nil),
	} {
		if r.code != 401 {
			t.Errorf("status %d without a valid key, want 401: %s", r.code, r.body)
		}
	}
	if n := imgCount(t, p); n != 1 {
		t.Errorf("%d templates stored, want 1", n)
	}
}

func TestDeleteImageAnswers200AndRemovesIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		id := imgCreate(t, p, imgBerth)["Id"].(string)
		r := p.expect(200, "DELETE", "/api/images/"+id, nil).object(t)
		if msg, _ := r["message"].(string); msg == "" {
			t.Errorf("DELETE answered %v, want a message", r)
		}
		p.expectAudit("image.delete", id)
		if list := p.expect(200, "GET", "/api/images", nil).array(t); len(list) != 0 {
			t.Errorf("images after delete = %v, want none", list)
		}
		before := p.snapshot()
		p.expectError(404, "DELETE", "/api/images/"+id, nil, "not found")
		p.expectError(404, "DELETE", "/api/images/no-such-image", nil)
		p.expectUnchanged(before)
	})
}

// TestDeleteImageRejectsAnUnprintableIDNamingIt checks that the path id is
// held to the rules of every other path id: PostgreSQL refuses NUL and
// invalid UTF-8 as an argument, which would otherwise answer 500.
func TestDeleteImageRejectsAnUnprintableIDNamingIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		imgCreate(t, p, imgBerth)
		before := p.snapshot()
		for _, id := range []string{"a%00b", "a%ffb", "a%0Ab", strings.Repeat("x", 65)} {
			p.expectError(400, "DELETE", "/api/images/"+id, nil, "id")
		}
		p.expectUnchanged(before)
		if n := imgCount(t, p); n != 1 {
			t.Errorf("%d templates stored, want 1", n)
		}
	})
}

func TestDeleteImageAnswers409WhileAnInstanceUsesIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		id := imgCreate(t, p, imgBerth)["Id"].(string)
		body := deployBody(user, node, "25565", "25565")
		body["image"] = "Own"
		instance := p.deploy(body)
		before := p.snapshot()
		p.expectError(409, "DELETE", "/api/images/"+id, nil, "used by 1 instance")
		p.expectUnchanged(before)
		if n := imgCount(t, p); n != 1 {
			t.Fatalf("%d templates stored, want 1", n)
		}
		p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": instance})
		p.expect(200, "DELETE", "/api/images/"+id, nil)
	})
}

func TestDeployHoldsTheDockerImageToTheTemplate(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		imgCreate(t, p, imgSkyport)
		before := p.snapshot()
		body := deployBody(user, node, "25565", "25565")
		body["image"], body["imagename"] = "ghcr.io/example/other:1", "Spigot"
		p.expectError(400, "POST", "/api/instances/deploy", body, "image", "ghcr.io/example/other:1", "AltImages")
		p.expectUnchanged(before)
		for i, image := range []string{"ghcr.io/example/java:21", "ghcr.io/example/java:17"} {
			body := deployBody(user, node, itoa(25565+i), itoa(25565+i))
			body["image"], body["imagename"] = image, "spigot"
			in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
			if in["Image"] != image {
				t.Errorf("Image = %v, want %s", in["Image"], image)
			}
		}
	})
}

func TestDeployChecksVariablesAgainstTheTemplateRules(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		imgCreate(t, p, imgEgg)
		before := p.snapshot()
		for _, tc := range []struct {
			vars  map[string]any
			words []string
		}{
			{map[string]any{"SLOTS": "100"}, []string{"variables", "SLOTS", "at most 64"}},
			{map[string]any{"SLOTS": "many"}, []string{"SLOTS", "whole number"}},
			{map[string]any{"LEVEL": "World 1"}, []string{"LEVEL", "must match"}},
			{map[string]any{"LEVEL": ""}, []string{"LEVEL", "required"}},
			{map[string]any{"EDITION": "pro"}, []string{"EDITION", "not editable"}},
			{map[string]any{"MOTD": "hi"}, []string{"MOTD", "not a variable"}},
			{map[string]any{"PATH": "/tmp"}, []string{"PATH", "cannot be set"}},
		} {
			body := deployBody(user, node, "25565", "25565")
			body["image"], body["variables"] = "Rules Egg", tc.vars
			p.expectError(400, "POST", "/api/instances/deploy", body, tc.words...)
		}
		p.expectUnchanged(before)

		body := deployBody(user, node, "25565", "25565")
		body["image"], body["variables"] = "Rules Egg", `{"SLOTS": 64, "EDITION": "community"}`
		in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
		want := map[string]any{"SLOTS": "64", "LEVEL": "world", "EDITION": "community"}
		if got := in["Variables"]; !reflect.DeepEqual(got, want) {
			t.Errorf("Variables = %v, want %v (defaults filled in)", got, want)
		}
	})
}

func TestDeployRejectsAVariableThatBreaksADownloadURL(t *testing.T) {
	p := newPanel(t, panel.Config{})
	user, node := setup(p)
	imgCreate(t, p, imgSkyport)
	before := p.snapshot()
	body := deployBody(user, node, "25565", "25565")
	body["image"], body["variables"] = "Spigot", map[string]any{"Version": "1\n21"}
	p.expectError(400, "POST", "/api/instances/deploy", body, "variables", "Scripts.Install[0].Uri")
	p.expectUnchanged(before)
}

// imgEggYAML is a PLCN_v3 egg as Pelican exports it in YAML, with a uuid.
const imgEggYAML = `meta:
  version: PLCN_v3
name: 'Moon Base'
uuid: 0b9f0c36-8f7e-4f44-9a11-000000000001
docker_images:
  Default: 'ghcr.io/example/yolks:debian'
startup_commands:
  Default: './moon --port {{SERVER_PORT}}'
config:
  startup:
    done: ready
  stop: '^^C'
variables:
  -
    name: Key
    env_variable: LICENSE_KEY
    default_value: ''
    user_editable: false
    rules:
      - required
      - string
`

func TestCreateImageReplacesOnlyWhenAsked(t *testing.T) {
	p := newPanel(t, panel.Config{})
	first := p.expect(201, "POST", "/api/images", imgEggYAML).object(t)
	warnings, _ := first["warnings"].([]any)
	if len(warnings) != 1 || !strings.Contains(warnings[0].(string), "config.stop") {
		t.Errorf("warnings = %v, want one on config.stop", first["warnings"])
	}
	if first["StopCommand"] != "^SIGKILL" || first["Uuid"] != "0b9f0c36-8f7e-4f44-9a11-000000000001" {
		t.Errorf("imported %v", first)
	}
	newer := strings.Replace(imgEggYAML, "'Moon Base'", "'Moon Base 2'", 1)
	before := p.snapshot()
	p.expectError(409, "POST", "/api/images", newer, `"Moon Base"`, first["Id"].(string), "uuid", "replace")
	p.expectError(400, "POST", "/api/images?replace=maybe", newer, "replace")
	p.expectUnchanged(before)

	replaced := p.expect(200, "POST", "/api/images?replace=true", newer).object(t)
	if replaced["Id"] != first["Id"] || replaced["Name"] != "Moon Base 2" {
		t.Errorf("replace answered %v, want Id %v named Moon Base 2", replaced, first["Id"])
	}
	p.expectAudit("image.replace", first["Id"].(string))
	if n := imgCount(t, p); n != 1 {
		t.Errorf("%d templates after a replace, want 1", n)
	}
	p.expect(201, "POST", "/api/images?replace=1", imgBerth)
}

func TestDeployMustSupplyALockedRequiredVariable(t *testing.T) {
	p := newPanel(t, panel.Config{})
	user, node := setup(p)
	imgCreate(t, p, imgEggYAML)
	before := p.snapshot()
	body := deployBody(user, node, "25565", "25565")
	body["image"] = "Moon Base"
	p.expectError(400, "POST", "/api/instances/deploy", body, "variables", "LICENSE_KEY", "required")
	p.expectUnchanged(before)
	body["variables"] = map[string]any{"LICENSE_KEY": "abc-123"}
	in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
	if got := in["Variables"]; !reflect.DeepEqual(got, map[string]any{"LICENSE_KEY": "abc-123"}) {
		t.Errorf("Variables = %v", got)
	}
}
