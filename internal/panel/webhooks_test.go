package panel_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/store"
)

// storedWebhookSecret starts the secret of every webhook webhookOf
// stores, so that a test can look for it in answers.
const storedWebhookSecret = "whsec_stored_"

// webhookOf stores a webhook of instance and returns its id.
func (c *clientPanel) webhookOf(instance string) string {
	c.t.Helper()
	id := store.NewID(8)
	if err := c.st.CreateWebhook(context.Background(), store.Webhook{ID: id, InstanceID: instance, URL: "https://example.com/" + id,
		Events: []string{store.EventInstanceCrashed}, Format: "json", Secret: storedWebhookSecret + id, CreatedAt: time.Now(),
		CreatedBy: "test"}); err != nil {
		c.t.Fatalf("create webhook: %v", err)
	}
	return id
}

func TestClientWebhooksShowTheSecretOnceAndValidateByField(t *testing.T) {
	c := newClientPanel(t)
	owner, scheduler, viewer := c.user("owner", false), c.user("scheduler", false), c.user("viewer", false)
	c.user("stranger", false)
	id := c.readyInstanceOf(owner, "25565")
	c.grant(id, scheduler, access.Schedules)
	c.grant(id, viewer, access.ConsoleRead, access.Settings)
	c.sessionFor("owner", "owner")
	c.tokenFor("scheduler", "scheduler", false)
	c.sessionFor("viewer", "viewer")
	c.sessionFor("stranger", "stranger")
	c.tokenFor("readonly", "owner", true)
	hooks := "/api/client/instances/" + id + "/webhooks"

	r := c.expectAs(201, "owner", "POST", hooks, map[string]any{"url": "https://example.com/hooks/berth",
		"events": []string{"node.online", "instance.crashed", "instance.started"}, "format": "discord"})
	created := r.object(t)
	hasKeys(t, "created webhook", created, "id", "instance", "url", "events", "format", "secret", "createdAt", "createdBy")
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Errorf("secret = %q; want a whsec_ token", secret)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the answer with the secret may be cached: Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if got := created["events"].([]any); len(got) != 3 || got[0] != "instance.started" || got[2] != "node.online" {
		t.Errorf("events = %v; want them in the documented order", got)
	}
	if created["format"] != "discord" || created["instance"] != id || created["createdBy"] != owner {
		t.Errorf("created = %v", created)
	}
	hookID := created["id"].(string)
	one := hooks + "/" + hookID

	// The secret is never shown again, to anyone.
	for _, body := range []string{
		string(c.expectAs(200, "owner", "GET", hooks, nil).body),
		string(c.expectAs(200, "scheduler", "GET", one, nil).body),
		string(c.do(clientRequest{method: "GET", path: "/api/instances/webhooks/" + id, key: c.key}).body),
		string(c.expectAs(200, "owner", "GET", "/api/client/instances/"+id+"/activity", nil).body),
	} {
		if strings.Contains(body, secret) || strings.Contains(body, `"secret"`) {
			t.Errorf("an answer after the create shows the secret: %s", body)
		}
	}
	if strings.Contains(c.logs.String(), secret) {
		t.Error("the log holds the secret")
	}
	if stored, err := c.st.WebhookByID(t.Context(), id, hookID); err != nil || stored.Secret != secret {
		t.Errorf("stored secret %q, %v; want the one shown", stored.Secret, err)
	}

	for _, tc := range []struct {
		body  any
		words []string
	}{
		{map[string]any{"events": []string{"instance.started"}}, []string{"url: is required"}},
		{map[string]any{"url": "ftp://example.com/", "events": []string{"instance.started"}}, []string{"url: must be an http:// or https:// URL"}},
		{map[string]any{"url": "http://127.0.0.1:8080/", "events": []string{"instance.started"}}, []string{"url: ", "not a public address", "-allow-private-webhooks"}},
		{map[string]any{"url": "http://[fe80::1]/", "events": []string{"instance.started"}}, []string{"url: "}},
		{map[string]any{"url": "https://example.com/" + strings.Repeat("a", 2100), "events": []string{"instance.started"}}, []string{"url: must be at most 2048 bytes"}},
		{map[string]any{"url": "https://example.com/"}, []string{"events: is required"}},
		{map[string]any{"url": "https://example.com/", "events": []string{}}, []string{"events: must list at least one of", "backup.completed"}},
		{map[string]any{"url": "https://example.com/", "events": []string{"instance.exploded"}}, []string{"events: ", "instance.exploded", "node.offline"}},
		{map[string]any{"url": "https://example.com/", "events": 7}, []string{"events: must be an array"}},
		{map[string]any{"url": "https://example.com/", "events": []string{"instance.started"}, "format": "slack"}, []string{"format: "}},
		{"[1]", []string{"body: "}},
	} {
		msg := c.expectAs(400, "owner", "POST", hooks, tc.body).errorMessage(t)
		for _, w := range tc.words {
			if !strings.Contains(msg, w) {
				t.Errorf("POST %v: error %q does not mention %q", tc.body, msg, w)
			}
		}
	}

	// Permissions: schedules, or the owner; the rest as every instance
	// route. An admin key uses the admin routes.
	c.expectAs(201, "scheduler", "POST", hooks, map[string]any{"url": "https://example.com/2", "events": []string{"install.failed"}})
	c.expectAs(403, "viewer", "GET", hooks, nil)
	c.expectAs(403, "viewer", "POST", hooks, map[string]any{"url": "https://example.com/3", "events": []string{"install.failed"}})
	c.expectAs(404, "stranger", "GET", one, nil)
	c.expectAs(404, "stranger", "DELETE", one, nil)
	c.expectAs(200, "readonly", "GET", one, nil)
	c.expectAs(403, "readonly", "DELETE", one, nil)
	if r := c.do(clientRequest{method: "GET", path: hooks, key: c.key}); r.code != 401 {
		t.Errorf("an admin key on the client route: %d, want 401", r.code)
	}
	if list := c.expectAs(200, "owner", "GET", hooks, nil).array(t); len(list) != 2 {
		t.Errorf("webhooks = %v; want 2", list)
	}

	// The log of deliveries, newest first and bounded.
	// The instance runs already: stopped is not subscribed to.
	for _, status := range []string{"stopped", "running", "crashed"} {
		if err := c.st.SetObserved(t.Context(), c.nodeID, id, store.Observation{Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	log := c.expectAs(200, "owner", "GET", one+"/deliveries", nil).array(t)
	if len(log) != 2 || log[0]["event"] != "instance.crashed" || log[1]["event"] != "instance.started" || log[0]["state"] != "pending" {
		t.Errorf("deliveries = %v; want the crash, then the start, pending", log)
	}
	if got := c.expectAs(200, "owner", "GET", one+"/deliveries?limit=1", nil).array(t); len(got) != 1 {
		t.Errorf("limit=1 answered %d", len(got))
	}
	for _, q := range []string{"0", "201", "x"} {
		if msg := c.expectAs(400, "owner", "GET", one+"/deliveries?limit="+q, nil).errorMessage(t); !strings.HasPrefix(msg, "limit: ") {
			t.Errorf("limit=%s: %q", q, msg)
		}
	}

	// Another instance's webhook is not found through this one.
	other := c.readyInstanceOf(owner, "25566")
	c.expectAs(404, "owner", "GET", "/api/client/instances/"+other+"/webhooks/"+hookID, nil)
	c.expectAs(403, "owner", "GET", "/api/webhooks/"+hookID, nil) // the admin routes

	// A change replaces what it names and keeps the secret.
	changed := c.expectAs(200, "scheduler", "PATCH", one, map[string]any{"events": []string{"instance.stopped"}, "format": "json"}).object(t)
	if ev := changed["events"].([]any); len(ev) != 1 || ev[0] != "instance.stopped" || changed["format"] != "json" ||
		changed["url"] != "https://example.com/hooks/berth" || changed["secret"] != nil {
		t.Errorf("changed webhook = %v", changed)
	}
	if stored, err := c.st.WebhookByID(t.Context(), id, hookID); err != nil || stored.Secret != secret || stored.Format != "json" {
		t.Errorf("stored after the change = %+v, %v", stored, err)
	}
	for body, word := range map[string]string{
		`{}`:                            "body: must change url, events or format",
		`{"url": "http://10.0.0.1/"}`:   "url: ",
		`{"events": []}`:                "events: must list at least one",
		`{"format": "xml"}`:             "format: ",
		`{"events": ["node.offline!"]}`: "events: ",
	} {
		if msg := c.expectAs(400, "owner", "PATCH", one, body).errorMessage(t); !strings.Contains(msg, word) {
			t.Errorf("PATCH %s: %q does not mention %q", body, msg, word)
		}
	}
	c.expectAs(403, "viewer", "PATCH", one, map[string]any{"format": "json"})
	c.expectAs(404, "stranger", "PATCH", one, map[string]any{"format": "json"})

	c.expectAs(204, "scheduler", "DELETE", one, nil)
	c.expectAs(404, "owner", "GET", one, nil)
	c.expectAs(404, "owner", "GET", one+"/deliveries", nil)
	entries, err := c.st.AuditPage(t.Context(), store.AuditFilter{InstanceID: id, Action: "instance.webhook", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, []string{"instance.webhook.delete", "instance.webhook.update", "instance.webhook.create", "instance.webhook.create"}) {
		t.Errorf("activity = %v", actions)
	}
}

func TestAdminWebhooksAreGlobalOrAnInstances(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	body := map[string]any{"url": "https://example.com/all", "events": []string{"node.offline", "node.online"}}

	g := c.expect(201, "POST", "/api/webhooks", body).object(t)
	if _, ok := g["instance"]; ok || g["createdBy"] != c.keyID || g["format"] != "json" {
		t.Errorf("global webhook = %v", g)
	}
	gid := g["id"].(string)
	c.expectAudit("webhook.create", gid)
	mine := c.expect(201, "POST", "/api/instances/webhooks/"+id, body).object(t)
	if mine["instance"] != id {
		t.Errorf("an instance's webhook by an admin = %v", mine)
	}
	if list := c.expect(200, "GET", "/api/webhooks", nil).array(t); len(list) != 1 || list[0]["id"] != gid {
		t.Errorf("global webhooks = %v; want only %s", list, gid)
	}
	c.expect(200, "GET", "/api/webhooks/"+gid, nil)
	if got := c.expect(200, "PATCH", "/api/webhooks/"+gid, map[string]any{"format": "discord"}).object(t); got["format"] != "discord" {
		t.Errorf("changed global webhook = %v", got)
	}
	c.expect(404, "GET", "/api/webhooks/"+mine["id"].(string), nil)
	c.expect(404, "GET", "/api/instances/webhooks/"+id+"/"+gid, nil)
	c.expect(404, "GET", "/api/instances/webhooks/nope", nil)
	c.expectError(400, "POST", "/api/webhooks", map[string]any{"url": "http://169.254.169.254/", "events": []string{"node.offline"}}, "url: ")

	// A node going offline reaches the global webhook's log.
	if err := c.st.SetNodeHealth(t.Context(), c.nodeID, store.NodeOnline, "1", 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.st.SetNodeHealth(t.Context(), c.nodeID, store.NodeOffline, "", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	log := c.expect(200, "GET", "/api/webhooks/"+gid+"/deliveries", nil).array(t)
	if len(log) != 1 || log[0]["event"] != "node.offline" || log[0]["attempts"] != float64(0) {
		t.Errorf("global deliveries = %v; want one node.offline", log)
	}
	c.expect(204, "DELETE", "/api/webhooks/"+gid, nil)
	c.expect(404, "DELETE", "/api/webhooks/"+gid, nil)

	c.sessionFor("owner", "owner")
	if r := c.do(clientRequest{method: "GET", path: "/api/webhooks", as: "owner"}); r.code != 403 && r.code != 401 {
		t.Errorf("a user who is not an admin on /api/webhooks: %d", r.code)
	}
}

func TestWebhookPrivateAddressesWithTheFlag(t *testing.T) {
	p := newPanel(t, panel.Config{AllowPrivateWebhooks: true})
	p.expect(201, "POST", "/api/webhooks", map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"node.online"}})
}

func TestWebhooksPageListsWithoutSecretsForSchedulesOnly(t *testing.T) {
	d := newDataPages(t)
	hook := d.webhookOf(d.id)
	if err := d.st.SetObserved(t.Context(), d.nodeID, d.id, store.Observation{Status: "crashed", ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	body := d.pageAs(200, "owner", "/instances/"+d.id+"/webhooks", "<h1>survival</h1>",
		`data-api="POST /api/client/instances/`+d.id+`/webhooks" data-reveal="secret"`, "https://example.com/"+hook,
		`value="node.offline"`, `<option value="discord">`, "instance.crashed</code>", "pending", `id="reveal"`,
		`data-call="DELETE /api/client/instances/`+d.id+`/webhooks/`+hook+`"`)
	without(t, "the webhooks page", body, storedWebhookSecret)
	if other := d.pageAs(200, "owner", "/instances/"+d.id+"/files"); !strings.Contains(other, `/instances/`+d.id+`/webhooks"`) {
		t.Error("the owner's tabs do not link the webhooks page")
	}
	reader := d.pageAs(200, "reader", "/instances/"+d.id+"/files")
	without(t, "a reader's tabs", reader, `/webhooks"`)
	d.pageAs(403, "reader", "/instances/"+d.id+"/webhooks")
	d.pageAs(404, "stranger", "/instances/"+d.id+"/webhooks")
	d.expectSignInRedirect("/instances/" + d.id + "/webhooks")
}
