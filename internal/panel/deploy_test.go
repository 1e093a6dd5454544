package panel_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
)

var instanceFields = []string{"Id", "Name", "User", "Node", "Image", "Memory", "Cpu", "Disk", "Ports", "Primary",
	"Variables", "InternalState", "Status", "ContainerId", "VolumeId", "suspended", "CreatedAt"}

// nodeSummaryFields is exactly what an instance shows of its node.
var nodeSummaryFields = []string{"id", "name", "address", "port", "status"}

// checkInstanceShape checks an instance's field names, and that its node
// summary carries nothing more than the summary.
func checkInstanceShape(t *testing.T, in map[string]any) {
	t.Helper()
	hasKeys(t, "instance", in, instanceFields...)
	lacksKeys(t, "instance", in, "token", "Token", "Desired", "Generation", "password")
	node, ok := in["Node"].(map[string]any)
	if !ok {
		t.Fatalf("instance Node is not an object: %v", in["Node"])
	}
	hasKeys(t, "instance Node", node, nodeSummaryFields...)
	if len(node) != len(nodeSummaryFields) {
		t.Errorf("instance Node = %v, want only %v", node, nodeSummaryFields)
	}
}

// setup is a user and a node of 8 GiB memory and 10 GiB disk.
func setup(p *testPanel) (user, node string) {
	p.t.Helper()
	user = p.createUser("owner")
	node, _ = p.createNode("n1", 8192, 10240)
	return user, node
}

func TestDeployAnswers201WithTheInstance(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		body := deployBody(user, node, "25565:25565,25575:25576", "25565")
		body["variables"] = map[string]any{"EULA": "true", "MAX_PLAYERS": 20, "HARDCORE": false}
		body["cpu"] = 1.5
		r := p.expect(201, "POST", "/api/instances/deploy", body)
		m := r.object(t)
		hasKeys(t, "deploy answer", m, "message", "volumeId", "state", "instance")
		in, _ := m["instance"].(map[string]any)
		checkInstanceShape(t, in)
		id, _ := in["Id"].(string)
		if id == "" || m["volumeId"] != id || in["VolumeId"] != id || m["state"] != "INSTALLING" || m["message"] == "" {
			t.Errorf("deploy answer = %v", m)
		}
		want := map[string]any{
			"Name": "survival", "User": user, "Image": "ghcr.io/berth-dev/game:1", "Memory": float64(512), "Cpu": 1.5,
			"Disk": float64(1024), "Ports": "25565:25565,25575:25576", "Primary": "25565", "InternalState": "INSTALLING",
			"Status": "offline", "ContainerId": "", "suspended": false,
		}
		for k, v := range want {
			if in[k] != v {
				t.Errorf("instance %s = %#v, want %#v", k, in[k], v)
			}
		}
		vars, _ := in["Variables"].(map[string]any)
		if len(vars) != 3 || vars["EULA"] != "true" || vars["MAX_PLAYERS"] != "20" || vars["HARDCORE"] != "false" {
			t.Errorf("Variables = %v, want every value as a string", in["Variables"])
		}
		if n := in["Node"].(map[string]any); n["id"] != node || n["name"] != "n1" || n["address"] != "10.0.0.1" || n["port"] != float64(8443) {
			t.Errorf("Node = %v", n)
		}
		created, err := time.Parse(time.RFC3339Nano, in["CreatedAt"].(string))
		if err != nil || time.Since(created) > time.Minute {
			t.Errorf("CreatedAt = %v (%v), want about now", in["CreatedAt"], err)
		}
		p.expectAudit("instance.deploy", id)

		// What the answer showed is what was stored.
		got := p.expect(200, "POST", "/api/getInstance", map[string]any{"id": id}).object(t)
		for _, k := range []string{"Id", "Name", "User", "Image", "Memory", "Cpu", "Disk", "Ports", "Primary", "InternalState", "suspended"} {
			if got[k] != in[k] {
				t.Errorf("stored %s = %v, deploy answered %v", k, got[k], in[k])
			}
		}
	})
}

func TestDeployRequiresEachFieldNamingIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		before := p.snapshot()
		for _, field := range []string{"image", "memory", "cpu", "ports", "nodeId", "name", "user", "primary"} {
			body := deployBody(user, node, "25565", "25565")
			delete(body, field)
			p.expectError(400, "POST", "/api/instances/deploy", body, field, "required")
			body[field] = ""
			p.expectError(400, "POST", "/api/instances/deploy", body, field)
			body[field] = nil
			p.expectError(400, "POST", "/api/instances/deploy", body, field, "required")
		}
		p.expectError(400, "POST", "/api/instances/deploy", nil, "required")
		p.expectUnchanged(before)
	})
}

func TestDeployRejectsMalformedPorts(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		before := p.snapshot()
		for _, ports := range []string{"abc", "25565:", ":25565", "25565:25565:1", "0:25565", "25565:70000", "-1",
			"25565,", "25565,,25566", "25565:25565,1:25565", "25565;25566", "2556 5", "1e3", "0x50"} {
			p.expectError(400, "POST", "/api/instances/deploy", deployBody(user, node, ports, "25565"), "ports")
		}
		p.expectUnchanged(before)
	})
}

func TestDeployRejectsAPrimaryNotAmongThePorts(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		before := p.snapshot()
		for _, primary := range []string{"25566", "25565:25566", "25566:25565", "abc", "0", "25565:"} {
			p.expectError(400, "POST", "/api/instances/deploy", deployBody(user, node, "25565:25565,25570:25571", primary), "primary")
		}
		p.expectUnchanged(before)
		// A bare port names a host port first, then a container port; a
		// pair must match exactly.
		for _, c := range []struct{ ports, primary string }{
			{"25565:25565", "25565:25565"}, {"7777:25570", "25570"}, {"25580:8080", "25580"}, {"9000:9001", "9000"},
		} {
			in := p.expect(201, "POST", "/api/instances/deploy", deployBody(user, node, c.ports, c.primary)).object(t)["instance"].(map[string]any)
			if in["Primary"] != c.primary {
				t.Errorf("Primary = %v, want %q as sent", in["Primary"], c.primary)
			}
		}
	})
}

func TestDeployRejectsUnknownUserOrNode(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		before := p.snapshot()
		p.expectError(400, "POST", "/api/instances/deploy", deployBody("no-such-user", node, "25565", "25565"), "user")
		p.expectError(400, "POST", "/api/instances/deploy", deployBody(user, "no-such-node", "25565", "25565"), "nodeId")
		p.expectUnchanged(before)
	})
}

func TestDeployRejectsTakenHostPort(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		other, _ := p.createNode("n2", 8192, 10240)
		p.deploy(deployBody(user, node, "25565:25565,25575", "25565"))
		before := p.snapshot()
		for _, ports := range []string{"25565", "1000:25565", "30000,25575"} {
			p.expectError(400, "POST", "/api/instances/deploy", deployBody(user, node, ports, ports[len(ports)-5:]), "ports", "25")
		}
		p.expectUnchanged(before)
		// The same host port on another node is free.
		p.deploy(deployBody(user, other, "25565:25565,25575", "25565"))
		// And the ports a rejected deploy asked for were not kept: 30000 is free.
		p.deploy(deployBody(user, node, "30000", "30000"))
	})
}

func TestDeployRejectsMoreThanTheNodeHasRoomFor(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p) // 8192 MiB memory, 10240 MiB disk
		before := p.snapshot()
		big := deployBody(user, node, "25565", "25565")
		big["memory"] = 8193
		p.expectError(400, "POST", "/api/instances/deploy", big, "memory")
		big = deployBody(user, node, "25565", "25565")
		big["disk"] = 10241
		p.expectError(400, "POST", "/api/instances/deploy", big, "disk")
		p.expectUnchanged(before)

		// Capacity is what is left after the instances already there.
		first := deployBody(user, node, "25565", "25565")
		first["memory"], first["disk"] = 6144, 8192
		p.deploy(first)
		second := deployBody(user, node, "25566", "25566")
		second["memory"] = 2049
		p.expectError(400, "POST", "/api/instances/deploy", second, "memory")
		second["memory"], second["disk"] = 2048, 2049
		p.expectError(400, "POST", "/api/instances/deploy", second, "disk")
		second["disk"] = 2048
		p.deploy(second) // exactly fills the node
	})
}

func TestDeployAcceptsNumbersSentAsStrings(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		body := deployBody(user, node, "25565", "25565")
		body["memory"], body["cpu"], body["disk"] = "1024", "0.5", "2048"
		in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
		if in["Memory"] != float64(1024) || in["Cpu"] != 0.5 || in["Disk"] != float64(2048) {
			t.Errorf("Memory/Cpu/Disk = %v/%v/%v, want 1024/0.5/2048", in["Memory"], in["Cpu"], in["Disk"])
		}
		form := url.Values{"image": {"nginx:1.27"}, "memory": {"256"}, "cpu": {"2"}, "ports": {"8080:80"}, "nodeId": {node},
			"name": {"web"}, "user": {user}, "primary": {"8080"}, "variables": {`{"A":"1"}`}}
		in = p.expect(201, "POST", "/api/instances/deploy", form).object(t)["instance"].(map[string]any)
		if in["Memory"] != float64(256) || in["Cpu"] != float64(2) || in["Ports"] != "8080:80" || in["Variables"].(map[string]any)["A"] != "1" {
			t.Errorf("form deploy = %v", in)
		}
	})
}

func TestDeployRejectsBadNumbersNamingThem(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		before := p.snapshot()
		for _, c := range []struct {
			field string
			value any
		}{
			{"memory", "lots"}, {"memory", 0}, {"memory", -1}, {"memory", 1.5}, {"memory", true}, {"memory", "NaN"}, {"memory", "Infinity"},
			{"memory", 1e300}, {"cpu", 0}, {"cpu", "abc"}, {"cpu", -2}, {"cpu", 5000}, {"disk", -1}, {"disk", "big"},
		} {
			body := deployBody(user, node, "25565", "25565")
			body[c.field] = c.value
			p.expectError(400, "POST", "/api/instances/deploy", body, c.field)
		}
		p.expectUnchanged(before)
	})
}

func TestDeployAcceptsVariablesAsAnObjectOrAJSONString(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		for i, vars := range []any{map[string]any{"LEVEL": "world", "SEED": 42}, `{"LEVEL":"world","SEED":42}`} {
			body := deployBody(user, node, itoa(25565+i), itoa(25565+i))
			body["variables"] = vars
			in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
			if v := in["Variables"].(map[string]any); len(v) != 2 || v["LEVEL"] != "world" || v["SEED"] != "42" {
				t.Errorf("variables %v: Variables = %v", vars, v)
			}
		}
		for i, empty := range []any{"", nil, map[string]any{}} {
			body := deployBody(user, node, itoa(26000+i), itoa(26000+i))
			body["variables"] = empty
			in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
			if v, ok := in["Variables"].(map[string]any); !ok || len(v) != 0 {
				t.Errorf("variables %#v: Variables = %#v, want {}", empty, in["Variables"])
			}
		}
		before := p.snapshot()
		for _, bad := range []any{`[1,2]`, "not json", []any{"A"}, 42, map[string]any{"1BAD": "x"}, map[string]any{"A-B": "x"},
			map[string]any{"A": map[string]any{"nested": 1}}, map[string]any{"A": "nul\x00"},
			// Without a template, variables are the environment: no loader
			// or runtime names.
			map[string]any{"LD_PRELOAD": "/home/container/x.so"}, map[string]any{"PATH": "/home/container"},
			`{"DOCKER_HOST":"tcp://x"}`} {
			body := deployBody(user, node, "27000", "27000")
			body["variables"] = bad
			p.expectError(400, "POST", "/api/instances/deploy", body, "variables")
		}
		p.expectUnchanged(before)
	})
}

// addTemplate stores an image template and returns its id.
func addTemplate(t testing.TB, st *store.Store, tmpl images.Template) string {
	t.Helper()
	doc, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	id := store.NewID(8)
	if err := st.CreateTemplate(context.Background(), store.Template{ID: id, Name: tmpl.Name, Doc: doc, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return id
}

// paperTemplate is a template with a required and a defaulted variable.
var paperTemplate = images.Template{
	Name: "Paper", Description: "Minecraft: Paper", Author: "berth", Image: "ghcr.io/berth-dev/paper:1.21",
	AltImages: []string{"ghcr.io/berth-dev/paper:1.20"}, Env: []string{"TYPE=PAPER"}, Startup: "java -jar {{JAR}}",
	StopCommand: "stop",
	Variables: map[string]images.Variable{
		"EULA": {Description: "accept the EULA", Required: true},
		"JAR":  {Default: "server.jar"},
	},
}

func TestDeployResolvesAnImageTemplateByIdOrName(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		tid := addTemplate(t, p.st, paperTemplate)
		for i, ref := range []string{tid, "Paper", "paper"} {
			body := deployBody(user, node, itoa(25565+i), itoa(25565+i))
			body["image"] = ref
			body["variables"] = map[string]any{"EULA": "true"}
			in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
			if in["Image"] != "ghcr.io/berth-dev/paper:1.21" || in["ImageId"] != tid {
				t.Errorf("image %q: Image %v ImageId %v, want the template's image and id", ref, in["Image"], in["ImageId"])
			}
			if v := in["Variables"].(map[string]any); v["JAR"] != "server.jar" || v["EULA"] != "true" {
				t.Errorf("image %q: Variables = %v, want the default JAR filled in", ref, v)
			}
		}
		// A Docker reference with imagename: the reference is kept, the
		// template gives the rules.
		body := deployBody(user, node, "25570", "25570")
		body["image"], body["imagename"], body["variables"] = "ghcr.io/berth-dev/paper:1.20", "Paper", `{"EULA":"true"}`
		in := p.expect(201, "POST", "/api/instances/deploy", body).object(t)["instance"].(map[string]any)
		if in["Image"] != "ghcr.io/berth-dev/paper:1.20" || in["ImageId"] != tid {
			t.Errorf("image with imagename: Image %v ImageId %v", in["Image"], in["ImageId"])
		}
	})
}

func TestDeployRejectsAnUnknownImageOrBrokenTemplateRules(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		addTemplate(t, p.st, paperTemplate)
		before := p.snapshot()
		body := deployBody(user, node, "25565", "25565")
		body["imagename"] = "No Such Template"
		p.expectError(400, "POST", "/api/instances/deploy", body, "imagename", "No Such Template")

		body = deployBody(user, node, "25565", "25565")
		body["image"] = "Paper" // EULA is required and missing
		p.expectError(400, "POST", "/api/instances/deploy", body, "variables", "EULA")

		for _, image := range []string{"Not A Template!", "Upper", "a b", "image:tag:extra", "repo@sha256:short"} {
			body = deployBody(user, node, "25565", "25565")
			body["image"] = image
			p.expectError(400, "POST", "/api/instances/deploy", body, "image")
		}
		p.expectUnchanged(before)
	})
}

func TestListImagesAnswersTheTemplates(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		if got := p.expect(200, "GET", "/api/images", nil).array(t); len(got) != 0 {
			t.Fatalf("images of a new panel = %v, want []", got)
		}
		tid := addTemplate(t, p.st, paperTemplate)
		list := p.expect(200, "GET", "/api/images", nil).array(t)
		if len(list) != 1 {
			t.Fatalf("images = %v, want one", list)
		}
		img := list[0]
		hasKeys(t, "image", img, "Id", "Name", "Description", "Author", "Image", "AltImages", "Env", "Variables", "StopCommand", "Startup", "Scripts")
		if img["Id"] != tid || img["Name"] != "Paper" || img["Image"] != "ghcr.io/berth-dev/paper:1.21" || img["StopCommand"] != "stop" {
			t.Errorf("image = %v", img)
		}
	})
}
