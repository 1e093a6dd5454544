package panel_test

import (
	"strings"
	"testing"
)

func TestListInstancesAnswersEveryInstance(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		if got := p.expect(200, "GET", "/api/instances", nil).array(t); len(got) != 0 {
			t.Fatalf("instances of a new panel = %v, want []", got)
		}
		user, node := setup(p)
		a := p.deploy(deployBody(user, node, "25565", "25565"))
		b := p.deploy(deployBody(user, node, "25566", "25566"))
		list := p.expect(200, "GET", "/api/instances", nil).array(t)
		byID := indexBy(t, list, "Id")
		if len(list) != 2 || byID[a] == nil || byID[b] == nil {
			t.Fatalf("instances = %v, want a and b", list)
		}
		for _, in := range list {
			checkInstanceShape(t, in)
		}
		if byID[b]["Ports"] != "25566:25566" {
			t.Errorf("instance b = %v", byID[b])
		}
	})
}

func TestGetInstanceAnswersTheInstance(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		id := p.deploy(deployBody(user, node, "25565", "25565"))
		in := p.expect(200, "POST", "/api/getInstance", map[string]any{"id": id}).object(t)
		checkInstanceShape(t, in)
		if in["Id"] != id || in["User"] != user {
			t.Errorf("getInstance = %v", in)
		}
	})
}

func TestGetInstanceRejectsMissingOrUnknownId(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.expectError(400, "POST", "/api/getInstance", map[string]any{}, "id", "required")
		p.expectError(400, "POST", "/api/getInstance", map[string]any{"id": ""}, "id", "required")
		p.expectError(400, "POST", "/api/getInstance", map[string]any{"id": strings.Repeat("x", 65)}, "id")
		p.expectError(modeCodes[p.mode].notFound, "POST", "/api/getInstance", map[string]any{"id": "no-such-instance"}, "not found")
	})
}

func TestGetUserInstanceAnswersOnlyThatUsersInstances(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		other := p.createUser("other")
		idle := p.createUser("idle")
		mine := p.deploy(deployBody(user, node, "25565", "25565"))
		p.deploy(deployBody(other, node, "25566", "25566"))
		list := p.expect(200, "POST", "/api/getUserInstance", map[string]any{"userId": user}).array(t)
		if len(list) != 1 || list[0]["Id"] != mine {
			t.Errorf("getUserInstance = %v, want only %s", list, mine)
		}
		for _, in := range list {
			checkInstanceShape(t, in)
		}
		if got := p.expect(200, "POST", "/api/getUserInstance", map[string]any{"userId": idle}).array(t); len(got) != 0 {
			t.Errorf("instances of a user without any = %v, want []", got)
		}
	})
}

func TestGetUserInstanceRejectsMissingOrUnknownUser(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.expectError(400, "POST", "/api/getUserInstance", map[string]any{}, "userId", "required")
		p.expectError(modeCodes[p.mode].notFound, "POST", "/api/getUserInstance", map[string]any{"userId": "nobody"}, "not found")
	})
}

func TestSuspendAndUnsuspendAreIdempotent(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		id := p.deploy(deployBody(user, node, "25565", "25565"))
		for _, c := range []struct {
			path      string
			suspended bool
			action    string
		}{
			{"/api/instances/suspend/", true, "instance.suspend"},
			{"/api/instances/suspend/", true, "instance.suspend"},
			{"/api/instances/unsuspend/", false, "instance.unsuspend"},
			{"/api/instances/unsuspend/", false, "instance.unsuspend"},
			{"/api/instances/suspend/", true, "instance.suspend"},
		} {
			in := p.expect(200, "POST", c.path+id, nil).object(t)
			checkInstanceShape(t, in)
			if in["Id"] != id || in["suspended"] != c.suspended {
				t.Fatalf("POST %s%s: Id %v suspended %v, want %s %v", c.path, id, in["Id"], in["suspended"], id, c.suspended)
			}
			p.expectAudit(c.action, id)
			got := p.expect(200, "POST", "/api/getInstance", map[string]any{"id": id}).object(t)
			if got["suspended"] != c.suspended {
				t.Fatalf("after POST %s: stored suspended = %v, want %v", c.path, got["suspended"], c.suspended)
			}
		}
	})
}

func TestSuspendTakesTheIdFromThePathNotTheBody(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		a := p.deploy(deployBody(user, node, "25565", "25565"))
		b := p.deploy(deployBody(user, node, "25566", "25566"))
		in := p.expect(200, "POST", "/api/instances/suspend/"+a, map[string]any{"id": b}).object(t)
		if in["Id"] != a {
			t.Errorf("suspended %v, want %s from the path", in["Id"], a)
		}
		other := p.expect(200, "POST", "/api/getInstance", map[string]any{"id": b}).object(t)
		if other["suspended"] != false {
			t.Errorf("the instance named in the body was suspended")
		}
	})
}

func TestSuspendRejectsUnknownId(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		p.createUser("x")
		before := p.snapshot()
		for _, path := range []string{"/api/instances/suspend/", "/api/instances/unsuspend/"} {
			p.expectError(modeCodes[p.mode].notFound, "POST", path+"no-such-instance", nil, "not found")
			p.expectError(400, "POST", path+strings.Repeat("x", 65), nil, "id")
		}
		p.expectUnchanged(before)
	})
}

func TestDeleteInstanceAnswersPerModeAndFreesItsPorts(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		keep := p.deploy(deployBody(user, node, "25570", "25570"))
		gone := p.deploy(deployBody(user, node, "25565:25565,25575", "25565"))
		r := p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": gone})
		if msg, _ := r.object(t)["message"].(string); msg == "" {
			t.Errorf("instance/delete answered no message: %s", r.body)
		}
		p.expectAudit("instance.delete", gone)
		list := p.expect(200, "GET", "/api/instances", nil).array(t)
		if len(list) != 1 || list[0]["Id"] != keep {
			t.Errorf("instances after delete = %v, want only %s", list, keep)
		}
		p.expectError(modeCodes[p.mode].notFound, "POST", "/api/getInstance", map[string]any{"id": gone}, "not found")
		// Both of its host ports are free again, and its memory too.
		again := deployBody(user, node, "25565:25565,25575", "25565")
		again["memory"] = 8192 - 512
		p.deploy(again)
	})
}

func TestDeleteInstanceRejectsMissingOrUnknownId(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		id := p.deploy(deployBody(user, node, "25565", "25565"))
		before := p.snapshot()
		p.expectError(400, "DELETE", "/api/instance/delete", map[string]any{}, "id", "required")
		p.expectError(modeCodes[p.mode].notFound, "DELETE", "/api/instance/delete", map[string]any{"id": "no-such-instance"}, "not found")
		p.expectUnchanged(before)
		p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": id})
		p.expectError(modeCodes[p.mode].notFound, "DELETE", "/api/instance/delete", map[string]any{"id": id}, "not found")
	})
}

func TestPathIdThatIsNotTextAnswers400(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		p.deploy(deployBody(user, node, "25565", "25565"))
		before := p.snapshot()
		for _, id := range []string{"%00", "%FF", "a%0Ab", "%C3%28"} {
			for _, c := range []struct{ method, path string }{
				{"POST", "/api/instances/suspend/"},
				{"POST", "/api/instances/unsuspend/"},
				{"POST", "/api/instances/power/"},
				{"GET", "/api/instances/logs/"},
			} {
				var body any
				if c.path == "/api/instances/power/" {
					body = map[string]any{"action": "start"}
				}
				p.expectError(400, c.method, c.path+id, body, "id")
			}
		}
		p.expectUnchanged(before)
	})
}
