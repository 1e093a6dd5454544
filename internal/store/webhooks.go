package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// The events a webhook may subscribe to (DESIGN §12).
const (
	EventInstanceStarted = "instance.started"
	EventInstanceStopped = "instance.stopped"
	EventInstanceCrashed = "instance.crashed"
	EventInstallFailed   = "install.failed"
	EventBackupCompleted = "backup.completed"
	EventBackupFailed    = "backup.failed"
	EventNodeOffline     = "node.offline"
	EventNodeOnline      = "node.online"
)

// WebhookEvents lists every event, in the order a webhook's events are
// stored and shown.
var WebhookEvents = []string{EventInstanceStarted, EventInstanceStopped, EventInstanceCrashed, EventInstallFailed,
	EventBackupCompleted, EventBackupFailed, EventNodeOffline, EventNodeOnline}

// States of a webhook delivery.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Webhook is an address that hears of events: an instance's, or global
// (InstanceID "") for an admin.
type Webhook struct {
	ID         string
	InstanceID string
	URL        string
	// Events are the subscribed events, in WebhookEvents' order.
	Events []string
	// Format is "json" or "discord".
	Format string
	// Secret keys the signature; no answer but the create's shows it.
	Secret    string
	CreatedAt time.Time
	CreatedBy string
}

// Delivery is one event sent, or to be sent, to one webhook.
type Delivery struct {
	ID            string
	WebhookID     string
	Event         string
	Body          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	DeliveredAt   time.Time
}

// Event is what happened, as every webhook that subscribed to it hears it.
type Event struct {
	Event      string
	InstanceID string
	NodeID     string
	// At is when it happened; zero means now.
	At time.Time
	// Data is what else there is to know: a status, a reason, a size.
	Data map[string]any
}

// EventBody is an event as JSON: the body of a delivery in the json
// format, which the other formats are made from.
type EventBody struct {
	Event    string         `json:"event"`
	Instance string         `json:"instance,omitempty"`
	Node     string         `json:"node,omitempty"`
	At       time.Time      `json:"at"`
	Data     map[string]any `json:"data"`
}

const webhookColumns = `id, COALESCE(instance_id, ''), url, events, format, secret, created_at, created_by`

func scanWebhook(row scanner) (Webhook, error) {
	var h Webhook
	var events string
	var created int64
	err := row.Scan(&h.ID, &h.InstanceID, &h.URL, &events, &h.Format, &h.Secret, &created, &h.CreatedBy)
	h.Events = strings.Fields(events)
	h.CreatedAt = fromMillis(created)
	return h, err
}

// nullable is s, or NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateWebhook stores a webhook. An instance that does not exist is
// NotExist.
func (s *Store) CreateWebhook(ctx context.Context, h Webhook) error {
	_, err := s.execQuiet(ctx, `INSERT INTO webhooks (id, instance_id, url, events, format, secret, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, h.ID, nullable(h.InstanceID), h.URL, strings.Join(h.Events, " "), h.Format,
		h.Secret, millis(h.CreatedAt), h.CreatedBy)
	if foreignKeyViolation(err) {
		return fault.New(fault.NotExist, "Instance not found")
	}
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

// Webhooks returns an instance's webhooks, or the global ones for
// instanceID "", oldest first.
func (s *Store) Webhooks(ctx context.Context, instanceID string) ([]Webhook, error) {
	return queryAll(ctx, s, "list webhooks", scanWebhook, `SELECT `+webhookColumns+` FROM webhooks
		WHERE COALESCE(instance_id, '') = ? ORDER BY created_at, id`+s.bytewise, instanceID)
}

// WebhookByID returns webhook id of an instance, or a global one for
// instanceID "": another's is NotExist, as is none.
func (s *Store) WebhookByID(ctx context.Context, instanceID, id string) (Webhook, error) {
	h, err := scanWebhook(s.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id = ? AND COALESCE(instance_id, '') = ?`, id, instanceID))
	if err != nil {
		return Webhook{}, notFound(err, "webhook")
	}
	return h, nil
}

// UpdateWebhook replaces a webhook's address, events and format, scoped as
// WebhookByID; its secret and queued deliveries stay.
func (s *Store) UpdateWebhook(ctx context.Context, h Webhook) error {
	res, err := s.execQuiet(ctx, `UPDATE webhooks SET url = ?, events = ?, format = ?
		WHERE id = ? AND COALESCE(instance_id, '') = ?`, h.URL, strings.Join(h.Events, " "), h.Format, h.ID, h.InstanceID)
	if err != nil {
		return fmt.Errorf("update webhook: %w", err)
	}
	n, err := rowsChanged(res)
	if err != nil || n == 0 {
		return notFoundIfNone(err, "webhook")
	}
	return nil
}

// DeleteWebhook deletes a webhook, scoped as WebhookByID, and its
// deliveries, those still pending too.
func (s *Store) DeleteWebhook(ctx context.Context, instanceID, id string) error {
	res, err := s.execQuiet(ctx, `DELETE FROM webhooks WHERE id = ? AND COALESCE(instance_id, '') = ?`, id, instanceID)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	n, err := rowsChanged(res)
	if err != nil || n == 0 {
		return notFoundIfNone(err, "webhook")
	}
	return nil
}

const deliveryColumns = `id, webhook_id, event, body, state, attempts, next_attempt_at, last_status, last_error,
	created_at, delivered_at`

func scanDelivery(row scanner) (Delivery, error) {
	var d Delivery
	var next, created, delivered int64
	err := row.Scan(&d.ID, &d.WebhookID, &d.Event, &d.Body, &d.State, &d.Attempts, &next, &d.LastStatus, &d.LastError,
		&created, &delivered)
	d.NextAttemptAt, d.CreatedAt, d.DeliveredAt = fromMillis(next), fromMillis(created), fromMillis(delivered)
	return d, err
}

// WebhookDeliveries returns the last limit deliveries of a webhook, newest
// first.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]Delivery, error) {
	return queryAll(ctx, s, "list webhook deliveries", scanDelivery, `SELECT `+deliveryColumns+`
		FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id`+s.bytewise+` DESC LIMIT ?`,
		webhookID, limit)
}

// EmitEvent queues a delivery of ev to every webhook that subscribed to
// it: the instance's own and the global ones (and, for a node's event,
// those of the node's instances). It is the one way events enter the
// queue; the store's own transitions call it inside their transaction.
func (s *Store) EmitEvent(ctx context.Context, ev Event) error {
	return s.txFor(ctx, []string{}, func(tx *sql.Tx) error { return s.emit(ctx, tx, ev) })
}

// emit queues ev inside tx, so that the change that caused the event and
// its deliveries are committed together, or neither is.
func (s *Store) emit(ctx context.Context, tx *sql.Tx, ev Event) error {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	body, err := json.Marshal(EventBody{Event: ev.Event, Instance: ev.InstanceID, Node: ev.NodeID,
		At: ev.At.UTC().Truncate(time.Millisecond), Data: ev.Data})
	if err != nil {
		return fmt.Errorf("emit %s: %w", ev.Event, err)
	}
	// Events are stored space-separated: padding both sides with spaces
	// matches whole names only. No event name holds a LIKE wildcard.
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM webhooks
		WHERE (' ' || events || ' ') LIKE ? AND (instance_id IS NULL OR instance_id = ?
		OR (? = '' AND ? <> '' AND instance_id IN (SELECT id FROM instances WHERE node_id = ?)))`),
		"% "+ev.Event+" %", ev.InstanceID, ev.InstanceID, ev.NodeID, ev.NodeID)
	if err != nil {
		return fmt.Errorf("emit %s: %w", ev.Event, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("emit %s: %w", ev.Event, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("emit %s: %w", ev.Event, err)
	}
	now := millis(time.Now())
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (id, webhook_id, event, body, state,
			next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			deliveryID(), id, ev.Event, string(body), DeliveryPending, now, now)
		if err != nil {
			return fmt.Errorf("emit %s: %w", ev.Event, err)
		}
	}
	return nil
}

// lastDelivery is the time part of the last delivery id this process
// made.
var lastDelivery atomic.Int64

// deliveryID returns a new delivery's id: the time in nanoseconds, made
// to grow with every id of this process, then random bytes against other
// panels'. The log sorts by creation time and then id, so events queued
// within one millisecond still read in the order they happened.
func deliveryID() string {
	for {
		last := lastDelivery.Load()
		next := max(time.Now().UnixNano(), last+1)
		if lastDelivery.CompareAndSwap(last, next) {
			return fmt.Sprintf("%016x", next) + NewID(8)
		}
	}
}

// DueDelivery is a pending delivery with what sending it takes.
type DueDelivery struct {
	Delivery
	URL    string
	Format string
	Secret string
}

// DueDeliveries returns up to limit pending deliveries due by now, the
// longest waiting first.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]DueDelivery, error) {
	return queryAll(ctx, s, "due webhook deliveries", func(row scanner) (DueDelivery, error) {
		var d DueDelivery
		var next, created, delivered int64
		err := row.Scan(&d.ID, &d.WebhookID, &d.Event, &d.Body, &d.State, &d.Attempts, &next, &d.LastStatus,
			&d.LastError, &created, &delivered, &d.URL, &d.Format, &d.Secret)
		d.NextAttemptAt, d.CreatedAt, d.DeliveredAt = fromMillis(next), fromMillis(created), fromMillis(delivered)
		return d, err
	}, `SELECT d.id, d.webhook_id, d.event, d.body, d.state, d.attempts, d.next_attempt_at, d.last_status,
		d.last_error, d.created_at, d.delivered_at, h.url, h.format, h.secret
		FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id
		WHERE d.state = ? AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id`+s.bytewise+` LIMIT ?`,
		DeliveryPending, millis(now), limit)
}

// ClaimDelivery takes a due delivery for one attempt, counting it, and
// reports whether this caller won it: the row moves from seen, the due
// time the caller read, to the end of its lease, so a second worker that
// read the same row changes nothing, and a worker that dies mid-attempt
// leaves the row due again once the lease ends.
func (s *Store) ClaimDelivery(ctx context.Context, id string, seen, leaseEnd time.Time) (bool, error) {
	res, err := s.execQuiet(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1
		WHERE id = ? AND state = ? AND next_attempt_at = ?`, millis(leaseEnd), id, DeliveryPending, millis(seen))
	if err != nil {
		return false, fmt.Errorf("claim delivery %s: %w", id, err)
	}
	n, err := rowsChanged(res)
	return n == 1, err
}

// DeliveryOutcome is how one attempt ended.
type DeliveryOutcome struct {
	// State is DeliveryDelivered, DeliveryFailed (given up), or
	// DeliveryPending to try again at Next.
	State string
	Next  time.Time
	// Status is the answer's HTTP status, 0 for none.
	Status int
	Error  string
	At     time.Time
}

// FinishDelivery records the outcome of the attempt that claimed the row
// with leaseEnd. A row another worker took meanwhile, after the lease
// ended, is left to it.
func (s *Store) FinishDelivery(ctx context.Context, id string, leaseEnd time.Time, o DeliveryOutcome) error {
	delivered := int64(0)
	if o.State == DeliveryDelivered {
		delivered = millis(o.At)
	}
	_, err := s.execQuiet(ctx, `UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, last_status = ?,
		last_error = ?, delivered_at = ? WHERE id = ? AND state = ? AND next_attempt_at = ?`,
		o.State, millis(o.Next), o.Status, o.Error, delivered, id, DeliveryPending, millis(leaseEnd))
	if err != nil {
		return fmt.Errorf("finish delivery %s: %w", id, err)
	}
	return nil
}

// PruneDeliveries deletes the finished deliveries created before before,
// so that the log stays bounded.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) error {
	_, err := s.execQuiet(ctx, `DELETE FROM webhook_deliveries WHERE state <> ? AND created_at < ?`,
		DeliveryPending, millis(before))
	if err != nil {
		return fmt.Errorf("prune deliveries: %w", err)
	}
	return nil
}
