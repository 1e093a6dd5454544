package panel

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/webhook"
)

// Webhooks (DESIGN §12): an instance's, under
// /api/client/instances/{id}/webhooks (the schedules permission, which the
// owner holds) and /api/instances/webhooks/{id} (admins), and the global
// ones under /api/webhooks (admins). One set of handlers serves all three,
// each given the scope its route reaches.

// webhookScope resolves the webhooks a request reaches: an instance's id,
// through its instance front, or "" for the global ones.
type webhookScope func(r *http.Request) (string, error)

// instanceWebhooks is the scope of an instance's webhooks.
func instanceWebhooks(f instanceFront) webhookScope {
	return func(r *http.Request) (string, error) {
		t, err := f(r)
		return t.in.ID, err
	}
}

// globalWebhooks is the scope of the global webhooks: the admin front has
// let the caller in already.
func globalWebhooks(*http.Request) (string, error) { return "", nil }

// webhookSecretPrefix marks a webhook's signing secret.
const webhookSecretPrefix = "whsec_"

// Bounds of a delivery log page.
const (
	defaultDeliveryPage = 50
	maxDeliveryPage     = 200
)

// webhookView is a webhook as listed: never its secret.
type webhookView struct {
	ID        string    `json:"id"`
	Instance  string    `json:"instance,omitempty" doc:"the instance's id; absent for a global webhook"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Format    string    `json:"format" doc:"\"json\" or \"discord\""`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy" doc:"the user, or the API key, that created it"`
}

// newWebhookView is the one answer that carries the secret.
type newWebhookView struct {
	webhookView
	Secret string `json:"secret" doc:"the HMAC-SHA256 key of X-Berth-Signature; shown this once"`
}

// deliveryView is one entry of a webhook's delivery log.
type deliveryView struct {
	ID          string     `json:"id"`
	Event       string     `json:"event"`
	State       string     `json:"state" doc:"pending, delivered or failed"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"nextAttemptAt" doc:"when a pending delivery is tried next"`
	LastStatus  int        `json:"lastStatus" doc:"the last answer's HTTP status; 0 for none"`
	LastError   string     `json:"lastError"`
	CreatedAt   time.Time  `json:"createdAt"`
	DeliveredAt *time.Time `json:"deliveredAt"`
}

func viewWebhook(h store.Webhook) webhookView {
	return webhookView{ID: h.ID, Instance: h.InstanceID, URL: h.URL, Events: h.Events, Format: h.Format,
		CreatedAt: h.CreatedAt, CreatedBy: h.CreatedBy}
}

func viewDelivery(d store.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, Event: d.Event, State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: d.CreatedAt, DeliveredAt: optionalTime(d.DeliveredAt)}
	if d.State == store.DeliveryPending {
		v.NextAttempt = optionalTime(d.NextAttemptAt)
	}
	return v
}

// webhookAction names an activity entry: instance.webhook.* for an
// instance's webhook, webhook.* for a global one.
func webhookAction(instanceID, verb string) string {
	if instanceID == "" {
		return "webhook." + verb
	}
	return "instance.webhook." + verb
}

// listWebhooks answers the webhooks of the scope, oldest first.
func (s *Server) listWebhooks(scope webhookScope) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := scope(r)
		if err != nil {
			return err
		}
		list, err := s.store.Webhooks(r.Context(), id)
		if err != nil {
			return err
		}
		out := make([]webhookView, len(list))
		for i, h := range list {
			out[i] = viewWebhook(h)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// createWebhook is POST {"url", "events", "format"?}: 201 with the
// secret, shown this once.
func (s *Server) createWebhook(scope webhookScope) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		u, events, format, err := s.webhookChange(b, true)
		if err != nil {
			return err
		}
		instanceID, err := scope(r)
		if err != nil {
			return err
		}
		p := callerOf(r)
		by := p.UserID
		if by == "" {
			by = p.CredentialID
		}
		h := store.Webhook{ID: store.NewID(16), InstanceID: instanceID, URL: u, Events: events, Format: format,
			Secret: secret.NewToken(webhookSecretPrefix), CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: by}
		if err := s.store.CreateWebhook(r.Context(), h); err != nil {
			return err
		}
		s.record(r, store.AuditEntry{Action: webhookAction(instanceID, "create"), InstanceID: instanceID, Target: h.ID})
		// The one answer that carries this secret: no cache may keep it.
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, newWebhookView{webhookView: viewWebhook(h), Secret: h.Secret})
		return nil
	}
}

// webhookChange reads the fields of a create or a change: each checked
// when sent, and required when required.
func (s *Server) webhookChange(b body, required bool) (url string, events []string, format string, err error) {
	if required || b.present("url") {
		if url, err = b.str("url", true, webhook.MaxURLLength); err != nil {
			return
		}
		if err = webhook.CheckURL("url", url, s.cfg.AllowPrivateWebhooks); err != nil {
			return
		}
	}
	if required || b.present("events") {
		var names []string
		if names, err = b.strings("events", "event names"); err != nil {
			return
		}
		if len(names) > len(store.WebhookEvents) {
			err = fault.InvalidField("events", "must list at most %d events", len(store.WebhookEvents))
			return
		}
		if events, err = webhook.ParseEvents("events", names); err != nil {
			return
		}
	}
	if required || b.present("format") {
		var name string
		if name, err = b.str("format", false, 16); err != nil {
			return
		}
		format, err = webhook.CheckFormat("format", name)
	}
	return
}

// updateWebhook is PATCH {"url"?, "events"?, "format"?}: what is sent
// replaces what was; the secret stays.
func (s *Server) updateWebhook(scope webhookScope) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		u, events, format, err := s.webhookChange(b, false)
		if err != nil {
			return err
		}
		if u == "" && events == nil && format == "" {
			return fault.InvalidField("body", "must change url, events or format")
		}
		h, err := s.pathWebhook(r, scope)
		if err != nil {
			return err
		}
		if u != "" {
			h.URL = u
		}
		if events != nil {
			h.Events = events
		}
		if format != "" {
			h.Format = format
		}
		if err := s.store.UpdateWebhook(r.Context(), h); err != nil {
			return err
		}
		s.record(r, store.AuditEntry{Action: webhookAction(h.InstanceID, "update"), InstanceID: h.InstanceID, Target: h.ID})
		writeJSON(w, http.StatusOK, viewWebhook(h))
		return nil
	}
}

// pathWebhook resolves the scope and the webhook of the path within it.
func (s *Server) pathWebhook(r *http.Request, scope webhookScope) (store.Webhook, error) {
	hookID, err := pathValue(r, "webhookId")
	if err != nil {
		return store.Webhook{}, err
	}
	instanceID, err := scope(r)
	if err != nil {
		return store.Webhook{}, err
	}
	return s.store.WebhookByID(r.Context(), instanceID, hookID)
}

// getWebhook answers one webhook, without its secret.
func (s *Server) getWebhook(scope webhookScope) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		h, err := s.pathWebhook(r, scope)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewWebhook(h))
		return nil
	}
}

// deleteWebhook deletes a webhook and its deliveries, pending ones too.
func (s *Server) deleteWebhook(scope webhookScope) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		h, err := s.pathWebhook(r, scope)
		if err != nil {
			return err
		}
		if err := s.store.DeleteWebhook(r.Context(), h.InstanceID, h.ID); err != nil {
			return err
		}
		s.record(r, store.AuditEntry{Action: webhookAction(h.InstanceID, "delete"), InstanceID: h.InstanceID, Target: h.ID})
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// webhookDeliveries answers a webhook's delivery log, newest first:
// ?limit= entries (1 to 200, default 50).
func (s *Server) webhookDeliveries(scope webhookScope) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		limit := defaultDeliveryPage
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxDeliveryPage {
				return fault.InvalidField("limit", "must be a whole number from 1 to %d", maxDeliveryPage)
			}
			limit = n
		}
		h, err := s.pathWebhook(r, scope)
		if err != nil {
			return err
		}
		list, err := s.store.WebhookDeliveries(r.Context(), h.ID, limit)
		if err != nil {
			return err
		}
		out := make([]deliveryView, len(list))
		for i, d := range list {
			out[i] = viewDelivery(d)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// webhookRouteDocs documents the webhook routes of every scope.
func webhookRouteDocs() []routeDoc {
	const (
		ok        = http.StatusOK
		created   = http.StatusCreated
		noContent = http.StatusNoContent
		notFound  = http.StatusNotFound
		conflict  = http.StatusConflict
	)
	limit := []queryParam{{name: "limit", integer: true, doc: "entries, 1 to 200 (default 50)"}}
	var docs []routeDoc
	for _, sc := range []struct {
		base, what string
		auth       audience
		see, chg   []int
	}{
		{"/api/client/instances/{id}/webhooks", "the instance's (schedules)", user, []int{notFound}, []int{notFound, conflict}},
		{"/api/instances/webhooks/{id}", "an instance's", admin, []int{notFound}, []int{notFound}},
		{"/api/webhooks", "global", admin, nil, nil},
	} {
		one := sc.base + "/{webhookId}"
		docs = append(docs,
			routeDoc{pattern: "GET " + sc.base, summary: "List webhooks, " + sc.what + ", without their secrets", auth: sc.auth,
				answers: map[int]any{ok: []webhookView{}}, errors: sc.see},
			routeDoc{pattern: "POST " + sc.base, summary: "Create a webhook, " + sc.what + "; its signing secret is shown once", auth: sc.auth,
				body: webhookBody{}, answers: map[int]any{created: newWebhookView{}}, errors: sc.chg},
			routeDoc{pattern: "GET " + one, summary: "One webhook, " + sc.what + ", without its secret", auth: sc.auth,
				answers: map[int]any{ok: webhookView{}}, errors: []int{notFound}},
			routeDoc{pattern: "PATCH " + one, summary: "Change a webhook, " + sc.what + ": what is sent replaces what was; the secret stays", auth: sc.auth,
				body: webhookChangeBody{}, answers: map[int]any{ok: webhookView{}}, errors: append([]int{notFound}, sc.chg...)},
			routeDoc{pattern: "DELETE " + one, summary: "Delete a webhook, " + sc.what + ", and its pending deliveries", auth: sc.auth,
				answers: map[int]any{noContent: nil}, errors: append([]int{notFound}, sc.chg...)},
			routeDoc{pattern: "GET " + one + "/deliveries", summary: "A webhook's delivery log, " + sc.what + ", newest first", auth: sc.auth,
				query: limit, answers: map[int]any{ok: []deliveryView{}}, errors: []int{notFound}},
		)
	}
	return docs
}

// webhookBody is the create request.
type webhookBody struct {
	URL    string   `json:"url" doc:"http:// or https://, at most 2048 bytes; private, loopback and link-local addresses are refused unless the panel runs with -allow-private-webhooks"`
	Events []string `json:"events" doc:"instance.started, instance.stopped, instance.crashed, install.failed, backup.completed, backup.failed, node.offline, node.online"`
	Format string   `json:"format,omitempty" doc:"\"json\" (the default) or \"discord\""`
}

// webhookChangeBody is the change request: any of the create's fields.
type webhookChangeBody struct {
	URL    string   `json:"url,omitempty" doc:"as the create's"`
	Events []string `json:"events,omitempty" doc:"as the create's; replaces the list"`
	Format string   `json:"format,omitempty" doc:"\"json\" or \"discord\""`
}

// webhookRoutes registers the webhook routes of every scope.
func (s *Server) webhookRoutes(api, client func(pattern string, h handler), on func(access.Permission, bool) instanceFront) {
	for _, sc := range []struct {
		base           string
		register       func(string, handler)
		reader, writer webhookScope
	}{
		{"/api/client/instances/{id}/webhooks", client, instanceWebhooks(on(access.Schedules, false)), instanceWebhooks(on(access.Schedules, true))},
		{"/api/instances/webhooks/{id}", api, instanceWebhooks(s.adminInstance), instanceWebhooks(s.adminInstance)},
		{"/api/webhooks", api, globalWebhooks, globalWebhooks},
	} {
		one := sc.base + "/{webhookId}"
		sc.register("GET "+sc.base, s.listWebhooks(sc.reader))
		sc.register("POST "+sc.base, s.createWebhook(sc.writer))
		sc.register("GET "+one, s.getWebhook(sc.reader))
		sc.register("PATCH "+one, s.updateWebhook(sc.writer))
		sc.register("DELETE "+one, s.deleteWebhook(sc.writer))
		sc.register("GET "+one+"/deliveries", s.webhookDeliveries(sc.reader))
	}
}
