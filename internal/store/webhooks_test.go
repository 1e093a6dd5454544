package store_test

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

func TestWebhooksOnSQLite(t *testing.T) {
	runWebhookSuite(t, storetest.NewSQLite)
}

func TestWebhooksOnPostgres(t *testing.T) {
	base := storetest.SkipWithoutPostgres(t)
	runWebhookSuite(t, func(t testing.TB) database { return storetest.NewPostgres(t, base) })
}

func runWebhookSuite(t *testing.T, fresh func(t testing.TB) database) {
	for _, c := range []struct {
		name string
		test func(*testing.T, database)
	}{
		{"WebhooksAreScopedToTheirInstanceOrGlobal", testWebhookScopes},
		{"StatusChangeQueuesOneDeliveryPerSubscribedWebhook", testStatusChangeEmitsOnce},
		{"InstallFailureEmitsOnce", testInstallFailedEmitsOnce},
		{"NodeHealthChangesEmitOfflineAndOnline", testNodeHealthEmits},
		{"ADeliveryIsClaimedByOneWorker", testDeliveryClaim},
		{"WebhooksGoWithTheirInstance", testWebhooksCascade},
		{"TwoPanelsObservingOneChangeEmitOnce", testTwoPanelsEmitOnce},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, fresh(t)) })
	}
}

// addWebhook stores a webhook of instanceID ("" global) for events.
func addWebhook(t *testing.T, st *store.Store, id, instanceID string, events ...string) {
	t.Helper()
	if err := st.CreateWebhook(ctx, store.Webhook{ID: id, InstanceID: instanceID, URL: "https://example.com/" + id,
		Events: events, Format: "json", Secret: "s-" + id, CreatedAt: time.Now(), CreatedBy: "owner"}); err != nil {
		t.Fatalf("create webhook %s: %v", id, err)
	}
}

// deliveries returns a webhook's log, newest first.
func deliveries(t *testing.T, st *store.Store, webhookID string) []store.Delivery {
	t.Helper()
	list, err := st.WebhookDeliveries(ctx, webhookID, 100)
	if err != nil {
		t.Fatalf("deliveries of %s: %v", webhookID, err)
	}
	return list
}

// events lists the events of a webhook's log, oldest first.
func events(t *testing.T, st *store.Store, webhookID string) []string {
	t.Helper()
	var out []string
	for _, d := range slices.Backward(deliveries(t, st, webhookID)) {
		out = append(out, d.Event)
	}
	return out
}

func testWebhookScopes(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addWebhook(t, st, "h1", "i1", store.EventInstanceCrashed, store.EventInstanceStarted)
	addWebhook(t, st, "g1", "", store.EventNodeOffline)
	err := st.CreateWebhook(ctx, store.Webhook{ID: "h2", InstanceID: "nope", URL: "https://example.com", Events: []string{"node.online"},
		Format: "json", Secret: "s", CreatedAt: time.Now()})
	expectFault(t, "webhook of a missing instance", err, fault.NotExist, "")

	for _, c := range []struct {
		scope string
		want  []string
	}{{"i1", []string{"h1"}}, {"", []string{"g1"}}, {"i2", nil}} {
		list, err := st.Webhooks(ctx, c.scope)
		var ids []string
		for _, h := range list {
			ids = append(ids, h.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("Webhooks(%q) = %v, %v; want %v", c.scope, ids, err, c.want)
		}
	}
	h, err := st.WebhookByID(ctx, "i1", "h1")
	if err != nil || h.Secret != "s-h1" || h.URL != "https://example.com/h1" || h.Format != "json" ||
		!slices.Equal(h.Events, []string{store.EventInstanceCrashed, store.EventInstanceStarted}) {
		t.Errorf("WebhookByID(i1, h1) = %+v, %v", h, err)
	}
	_, err = st.WebhookByID(ctx, "", "h1")
	expectFault(t, "an instance's webhook read as a global one", err, fault.NotExist, "")
	_, err = st.WebhookByID(ctx, "i1", "g1")
	expectFault(t, "a global webhook read as an instance's", err, fault.NotExist, "")
	h.URL, h.Events, h.Format = "https://example.com/new", []string{store.EventNodeOnline}, "discord"
	if err := st.UpdateWebhook(ctx, h); err != nil {
		t.Fatal(err)
	}
	if got, err := st.WebhookByID(ctx, "i1", "h1"); err != nil || got.URL != h.URL || got.Format != "discord" ||
		!slices.Equal(got.Events, h.Events) || got.Secret != "s-h1" {
		t.Errorf("after the update = %+v, %v", got, err)
	}
	h.InstanceID = ""
	expectFault(t, "update an instance's webhook as a global one", st.UpdateWebhook(ctx, h), fault.NotExist, "")
	expectFault(t, "delete a global webhook as an instance's", st.DeleteWebhook(ctx, "i1", "g1"), fault.NotExist, "")
	if err := st.DeleteWebhook(ctx, "", "g1"); err != nil {
		t.Fatal(err)
	}
	expectFault(t, "delete it again", st.DeleteWebhook(ctx, "", "g1"), fault.NotExist, "")
}

func testStatusChangeEmitsOnce(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	mustCreate(t, st, instance(t, "i2", "owner", "n1", "25566"))
	addWebhook(t, st, "mine", "i1", store.EventInstanceStarted, store.EventInstanceStopped, store.EventInstanceCrashed)
	addWebhook(t, st, "global", "", store.EventInstanceStarted)
	addWebhook(t, st, "deaf", "i1", store.EventInstallFailed)
	addWebhook(t, st, "other", "i2", store.EventInstanceStarted)

	observe := func(status string, exit int) {
		t.Helper()
		if err := st.SetObserved(ctx, "n1", "i1", store.Observation{Status: status, ContainerID: "c1", ExitCode: exit}); err != nil {
			t.Fatalf("observe %s: %v", status, err)
		}
	}
	observe("stopped", 0) // from offline: no stop, for it never ran
	observe("running", 0)
	observe("running", 0) // the same status again: nothing
	observe("stopping", 0)
	observe("stopped", 0)
	observe("running", 0)
	observe("crashed", 137)
	observe("crashed", 137)
	// A report for the instance by a node it is not on changes nothing.
	if err := st.SetObserved(ctx, "n2", "i1", store.Observation{Status: "running"}); err != nil {
		t.Fatal(err)
	}

	want := []string{store.EventInstanceStarted, store.EventInstanceStopped, store.EventInstanceStarted, store.EventInstanceCrashed}
	if got := events(t, st, "mine"); !slices.Equal(got, want) {
		t.Errorf("the instance's webhook heard %v; want %v", got, want)
	}
	if got := events(t, st, "global"); !slices.Equal(got, []string{store.EventInstanceStarted, store.EventInstanceStarted}) {
		t.Errorf("the global webhook heard %v; want the two starts", got)
	}
	for _, id := range []string{"deaf", "other"} {
		if got := events(t, st, id); len(got) != 0 {
			t.Errorf("webhook %s heard %v; want nothing", id, got)
		}
	}
	crash := deliveries(t, st, "mine")[0]
	var body struct {
		Event, Instance, Node string
		At                    time.Time
		Data                  map[string]any
	}
	if err := json.Unmarshal([]byte(crash.Body), &body); err != nil {
		t.Fatalf("body %s: %v", crash.Body, err)
	}
	if body.Event != store.EventInstanceCrashed || body.Instance != "i1" || body.Node != "n1" || body.At.IsZero() ||
		body.Data["exitCode"] != float64(137) || body.Data["previous"] != "running" || body.Data["name"] != "i1" {
		t.Errorf("crash body = %s", crash.Body)
	}
	if crash.State != store.DeliveryPending || crash.Attempts != 0 || crash.NextAttemptAt.IsZero() {
		t.Errorf("a new delivery = %+v; want pending and due", crash)
	}
}

func testInstallFailedEmitsOnce(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addWebhook(t, st, "h", "i1", store.EventInstallFailed)
	for range 2 {
		if err := st.MarkFailed(ctx, "i1", "install failed: exit 1"); err != nil {
			t.Fatal(err)
		}
	}
	list := deliveries(t, st, "h")
	if len(list) != 1 || list[0].Event != store.EventInstallFailed {
		t.Fatalf("deliveries = %+v; want one install.failed", list)
	}
	var body struct{ Data map[string]any }
	if err := json.Unmarshal([]byte(list[0].Body), &body); err != nil || body.Data["reason"] != "install failed: exit 1" {
		t.Errorf("body = %s, %v", list[0].Body, err)
	}
}

func testNodeHealthEmits(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addWebhook(t, st, "g", "", store.EventNodeOffline, store.EventNodeOnline)
	addWebhook(t, st, "onNode", "i1", store.EventNodeOffline)
	health := func(status string) {
		t.Helper()
		if err := st.SetNodeHealth(ctx, "n1", status, "1.0", 2, time.Now()); err != nil {
			t.Fatalf("health %s: %v", status, err)
		}
	}
	health(store.NodeOnline) // first contact: no event
	health(store.NodeOnline)
	health(store.NodeOffline)
	health(store.NodeOffline)
	health(store.NodeOnline)
	if got, want := events(t, st, "g"), []string{store.EventNodeOffline, store.EventNodeOnline}; !slices.Equal(got, want) {
		t.Errorf("the global webhook heard %v; want %v", got, want)
	}
	if got := events(t, st, "onNode"); !slices.Equal(got, []string{store.EventNodeOffline}) {
		t.Errorf("the webhook of an instance on the node heard %v; want node.offline", got)
	}
	n, err := st.NodeByID(ctx, "n1")
	if err != nil || n.Status != store.NodeOnline {
		t.Errorf("node = %+v, %v; want Online", n.Status, err)
	}
}

func testDeliveryClaim(t *testing.T, db database) {
	st := db(t)
	other := db(t) // a second panel on the same database
	sharedSetup(t, st)
	addWebhook(t, st, "h", "i1", store.EventBackupCompleted)
	if err := st.EmitEvent(ctx, store.Event{Event: store.EventBackupCompleted, InstanceID: "i1", Data: map[string]any{"size": 1}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Second)
	due, err := other.DueDeliveries(ctx, now, 10)
	if err != nil || len(due) != 1 || due[0].URL != "https://example.com/h" || due[0].Secret != "s-h" {
		t.Fatalf("due = %+v, %v", due, err)
	}
	d := due[0]
	lease := now.Add(time.Minute)
	won := 0
	for _, s := range []*store.Store{st, other} {
		ok, err := s.ClaimDelivery(ctx, d.ID, d.NextAttemptAt, lease)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d claims won; want 1", won)
	}
	if due, _ := st.DueDeliveries(ctx, now, 10); len(due) != 0 {
		t.Errorf("a claimed delivery is still due: %+v", due)
	}
	if due, _ := st.DueDeliveries(ctx, lease, 10); len(due) != 1 || due[0].Attempts != 1 {
		t.Errorf("after its lease the delivery is due %+v; want it again, with one attempt counted", due)
	}
	at := now.Add(2 * time.Second)
	if err := st.FinishDelivery(ctx, d.ID, lease, store.DeliveryOutcome{State: store.DeliveryDelivered, Status: 204, At: at, Next: at}); err != nil {
		t.Fatal(err)
	}
	got := deliveries(t, st, "h")[0]
	if got.State != store.DeliveryDelivered || got.LastStatus != 204 || !got.DeliveredAt.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("delivery = %+v; want delivered with 204", got)
	}
	if due, _ := st.DueDeliveries(ctx, lease.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("a delivered delivery is due: %+v", due)
	}
	if err := st.PruneDeliveries(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if list := deliveries(t, st, "h"); len(list) != 0 {
		t.Errorf("pruned log still holds %+v", list)
	}
}

func testWebhooksCascade(t *testing.T, db database) {
	st := db(t)
	sharedSetup(t, st)
	addWebhook(t, st, "h", "i1", store.EventInstanceStarted)
	if err := st.SetObserved(ctx, "n1", "i1", store.Observation{Status: "running"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WebhookByID(ctx, "i1", "h"); !fault.Is(err, fault.NotExist) {
		t.Errorf("webhook of a deleted instance: %v; want NotExist", err)
	}
	if due, err := st.DueDeliveries(ctx, time.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Errorf("due after delete = %+v, %v; want none", due, err)
	}
}

func testTwoPanelsEmitOnce(t *testing.T, db database) {
	a, b := db(t), db(t)
	sharedSetup(t, a)
	addWebhook(t, a, "h", "i1", store.EventInstanceStarted, store.EventInstanceStopped)
	for round, status := range []string{"running", "stopped", "running", "stopped"} {
		var wg sync.WaitGroup
		for _, st := range []*store.Store{a, b, a, b} {
			wg.Go(func() {
				if err := st.SetObserved(ctx, "n1", "i1", store.Observation{Status: status}); err != nil {
					t.Errorf("observe %s: %v", status, err)
				}
			})
		}
		wg.Wait()
		if got := events(t, a, "h"); len(got) != round+1 {
			t.Fatalf("after round %d the webhook heard %v; want one event per change", round+1, got)
		}
	}
}
