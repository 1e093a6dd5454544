package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

var ctx = context.Background()

// clock is an injected clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Reach moves the clock to t unless it is there already: past the real
// time at which the store queued the test's events.
func (c *clock) Reach(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// replayWindow is how far the receiver lets a signature's time be from
// its own clock: the check DESIGN §12 asks receivers to make.
const replayWindow = 5 * time.Minute

// receiver is a webhook endpoint on loopback that checks every request's
// signature and time as a real receiver should, and answers the statuses
// of answers in turn (then 200).
type receiver struct {
	secret string
	now    func() time.Time
	srv    *httptest.Server
	// connections counts the connections the server accepted.
	connections atomic.Int64

	mu       sync.Mutex
	answers  []int
	accepted []request
	rejected []string
	byID     map[string]int
}

type request struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, secret string, now func() time.Time, answers ...int) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, now: now, answers: answers, byID: map[string]int{}}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			rc.connections.Add(1)
		}
	}
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := verify(r.Header.Get(SignatureHeader), rc.secret, body, rc.now()); err != nil {
		rc.rejected = append(rc.rejected, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	status := http.StatusOK
	if len(rc.answers) > 0 {
		status, rc.answers = rc.answers[0], rc.answers[1:]
	}
	rc.accepted = append(rc.accepted, request{header: r.Header.Clone(), body: body})
	if status/100 == 2 {
		rc.byID[r.Header.Get("X-Berth-Delivery")]++
	}
	w.WriteHeader(status)
	fmt.Fprint(w, "answer body "+strings.Repeat("x", 1000))
}

// verify is the receiver's own check of X-Berth-Signature: the HMAC of
// "<t>.<body>", and t within replayWindow of its clock.
func verify(header, secret string, body []byte, now time.Time) error {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("bad signature")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > replayWindow || d < -replayWindow {
		return errors.New("stale timestamp")
	}
	return nil
}

func (rc *receiver) delivered() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.byID {
		out[k] = v
	}
	return out
}

// backends runs test on SQLite and, when it is available, PostgreSQL.
func backends(t *testing.T, test func(t *testing.T, db storetest.Database)) {
	t.Run("SQLite", func(t *testing.T) { test(t, storetest.NewSQLite(t)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		base := storetest.SkipWithoutPostgres(t)
		if base == "" {
			return
		}
		test(t, storetest.NewPostgres(t, base))
	})
}

// addGlobal stores a global webhook of url for every event.
func addGlobal(t *testing.T, st *store.Store, id, url, format string) {
	t.Helper()
	if err := st.CreateWebhook(ctx, store.Webhook{ID: id, URL: url, Events: store.WebhookEvents, Format: format,
		Secret: "whsec_" + id, CreatedAt: time.Now(), CreatedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
}

func emit(t *testing.T, st *store.Store, data any) {
	t.Helper()
	if err := st.EmitEvent(ctx, store.Event{Event: store.EventBackupCompleted, InstanceID: "i1",
		Data: map[string]any{"n": data}}); err != nil {
		t.Fatal(err)
	}
}

func deliveriesOf(t *testing.T, st *store.Store, id string) []store.Delivery {
	t.Helper()
	list, err := st.WebhookDeliveries(ctx, id, 100)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestWorkerRetriesAfter500AndSignsEachAttempt(t *testing.T) {
	backends(t, func(t *testing.T, db storetest.Database) {
		st := db(t)
		c := newClock()
		rc := newReceiver(t, "whsec_h", c.Now, http.StatusInternalServerError)
		addGlobal(t, st, "h", rc.srv.URL+"/hook", FormatJSON)
		emit(t, st, 1)
		w := NewWorker(Config{Store: st, Now: c.Now, AllowPrivate: true})

		// Events are queued at the real time; the clock moves past it.
		c.Reach(time.Now())
		if n := w.DeliverDue(ctx); n != 1 {
			t.Fatalf("first pass attempted %d; want 1", n)
		}
		d := deliveriesOf(t, st, "h")[0]
		if d.State != store.DeliveryPending || d.Attempts != 1 || d.LastStatus != 500 ||
			!strings.HasPrefix(d.LastError, "answered 500: answer body xxx") || len(d.LastError) > 300 {
			t.Fatalf("after a 500 the delivery is %+v; want pending, retried, with the answer's start", d)
		}
		if wait := d.NextAttemptAt.Sub(c.Now()); wait < 30*time.Second || wait > 38*time.Second {
			t.Errorf("the retry waits %v; want 30s and up to a quarter more", wait)
		}
		if n := w.DeliverDue(ctx); n != 0 {
			t.Errorf("a pass before the backoff ended attempted %d", n)
		}
		c.Advance(40 * time.Second)
		if n := w.DeliverDue(ctx); n != 1 {
			t.Fatalf("a pass after the backoff attempted %d; want 1", n)
		}
		d = deliveriesOf(t, st, "h")[0]
		if d.State != store.DeliveryDelivered || d.Attempts != 2 || d.LastStatus != 200 || d.LastError != "" || !d.DeliveredAt.Equal(c.Now().Truncate(time.Millisecond)) {
			t.Errorf("after a 200 the delivery is %+v; want delivered on the second attempt", d)
		}
		if n := w.DeliverDue(ctx); n != 0 {
			t.Errorf("a delivered delivery was attempted again")
		}

		rc.mu.Lock()
		accepted, rejected := rc.accepted, rc.rejected
		rc.mu.Unlock()
		if len(accepted) != 2 || len(rejected) != 0 {
			t.Fatalf("receiver accepted %d and rejected %v; want 2 signed attempts", len(accepted), rejected)
		}
		last := accepted[1]
		var body struct {
			Event, Instance string
			At              time.Time
			Data            map[string]any
		}
		if err := json.Unmarshal(last.body, &body); err != nil || body.Event != store.EventBackupCompleted ||
			body.Instance != "i1" || body.Data["n"] != float64(1) || body.At.IsZero() {
			t.Errorf("delivered body %s: %v", last.body, err)
		}
		if last.header.Get("X-Berth-Event") != store.EventBackupCompleted || last.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers = %v", last.header)
		}
		// The replay guard: the same request, signed then, sent again
		// later, fails the receiver's check.
		c.Advance(replayWindow + time.Minute)
		if err := verify(last.header.Get(SignatureHeader), "whsec_h", last.body, c.Now()); err == nil || err.Error() != "stale timestamp" {
			t.Errorf("a replay %v later passed the receiver's check: %v", replayWindow+time.Minute, err)
		}
		if err := verify(last.header.Get(SignatureHeader), "whsec_h", append(last.body, ' '), c.Now().Add(-replayWindow)); err == nil {
			t.Error("a changed body passed the receiver's check")
		}
	})
}

func TestWorkerGivesUpAfterMaxAttempts(t *testing.T) {
	st := storetest.NewSQLite(t)(t)
	c := newClock()
	answers := make([]int, MaxAttempts)
	for i := range answers {
		answers[i] = http.StatusBadGateway
	}
	rc := newReceiver(t, "whsec_h", c.Now, answers...)
	addGlobal(t, st, "h", rc.srv.URL, FormatJSON)
	emit(t, st, 1)
	w := NewWorker(Config{Store: st, Now: c.Now, AllowPrivate: true})
	start := c.Now()
	for i := range MaxAttempts {
		c.Reach(time.Now())
		if n := w.DeliverDue(ctx); n != 1 {
			t.Fatalf("attempt %d: the pass attempted %d", i+1, n)
		}
		d := deliveriesOf(t, st, "h")[0]
		if i < MaxAttempts-1 {
			if d.State != store.DeliveryPending {
				t.Fatalf("after attempt %d the delivery is %s; want pending", i+1, d.State)
			}
			c.Advance(d.NextAttemptAt.Sub(c.Now()))
		} else if d.State != store.DeliveryFailed || d.Attempts != MaxAttempts || d.LastStatus != http.StatusBadGateway {
			t.Fatalf("after the last attempt the delivery is %+v; want failed", d)
		}
	}
	if span := c.Now().Sub(start); span < time.Hour {
		t.Errorf("the attempts spanned %v; want over an hour", span)
	}
	c.Advance(24 * time.Hour)
	if n := w.DeliverDue(ctx); n != 0 {
		t.Errorf("a failed delivery was attempted again")
	}
}

// TestDeliveryOutlivesAPanelRestart queues an event, closes the panel
// before it is delivered (once before any attempt, once in the middle of
// one), and checks that a new worker on the same database delivers it once.
func TestDeliveryOutlivesAPanelRestart(t *testing.T) {
	backends(t, func(t *testing.T, db storetest.Database) {
		c := newClock()
		rc := newReceiver(t, "whsec_h", c.Now)
		first := db(t)
		addGlobal(t, first, "h", rc.srv.URL, FormatJSON)
		emit(t, first, "queued")
		emit(t, first, "claimed")
		// The first panel's worker claims the second event and dies
		// before its answer is recorded.
		c.Reach(time.Now())
		due, err := first.DueDeliveries(ctx, c.Now(), 10)
		if err != nil || len(due) != 2 {
			t.Fatalf("due = %v, %v", due, err)
		}
		if won, err := first.ClaimDelivery(ctx, due[1].ID, due[1].NextAttemptAt, c.Now().Add(lease)); !won || err != nil {
			t.Fatalf("claim: %v %v", won, err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}

		second := db(t)
		w := NewWorker(Config{Store: second, Now: c.Now, AllowPrivate: true})
		if n := w.DeliverDue(ctx); n != 1 {
			t.Fatalf("the new worker attempted %d; want the one unclaimed", n)
		}
		c.Advance(lease)
		if n := w.DeliverDue(ctx); n != 1 {
			t.Fatalf("after the dead worker's lease the new one attempted %d; want 1", n)
		}
		c.Advance(time.Hour)
		w.DeliverDue(ctx)
		got := rc.delivered()
		if len(got) != 2 || got[due[0].ID] != 1 || got[due[1].ID] != 1 {
			t.Errorf("receiver got %v; want each of %s, %s once", got, due[0].ID, due[1].ID)
		}
		for _, d := range deliveriesOf(t, second, "h") {
			if d.State != store.DeliveryDelivered {
				t.Errorf("delivery %s is %s", d.ID, d.State)
			}
		}
	})
}

// TestTwoWorkersDeliverEachOnce runs two panels' workers on one database
// at once.
func TestTwoWorkersDeliverEachOnce(t *testing.T) {
	backends(t, func(t *testing.T, db storetest.Database) {
		c := newClock()
		rc := newReceiver(t, "whsec_h", c.Now)
		a, b := db(t), db(t)
		addGlobal(t, a, "h", rc.srv.URL, FormatJSON)
		const events = 30
		for i := range events {
			emit(t, a, i)
		}
		c.Reach(time.Now())
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, st := range []*store.Store{a, b} {
			w := NewWorker(Config{Store: st, Now: c.Now, AllowPrivate: true})
			wg.Go(func() { counts[i] = w.DeliverDue(ctx) })
		}
		wg.Wait()
		got := rc.delivered()
		if len(got) != events || counts[0]+counts[1] != events {
			t.Fatalf("receiver got %d deliveries, workers attempted %v; want %d in all", len(got), counts, events)
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("delivery %s arrived %d times", id, n)
			}
		}
	})
}

// TestGuardRefusesPrivateAddressesAtDial sends to the test's own loopback
// listener: refused without AllowPrivate, before any connection, and
// delivered with it.
func TestGuardRefusesPrivateAddressesAtDial(t *testing.T) {
	st := storetest.NewSQLite(t)(t)
	c := newClock()
	rc := newReceiver(t, "whsec_h", c.Now)
	addGlobal(t, st, "h", rc.srv.URL, FormatJSON)
	emit(t, st, 1)
	c.Reach(time.Now())
	NewWorker(Config{Store: st, Now: c.Now}).DeliverDue(ctx)
	d := deliveriesOf(t, st, "h")[0]
	if d.State != store.DeliveryFailed || d.Attempts != 1 || !strings.Contains(d.LastError, "webhook address refused") ||
		!strings.Contains(d.LastError, "127.0.0.1 is in special-purpose range") || !strings.Contains(d.LastError, "-allow-private-webhooks") {
		t.Errorf("a delivery to loopback without the flag is %+v; want failed at once by the guard", d)
	}
	if strings.Contains(d.LastError, rc.srv.URL) {
		t.Errorf("the error repeats the webhook's address: %q", d.LastError)
	}
	if n := rc.connections.Load(); n != 0 {
		t.Errorf("the guard let %d connections through", n)
	}

	emit(t, st, 2)
	c.Reach(time.Now())
	NewWorker(Config{Store: st, Now: c.Now, AllowPrivate: true}).DeliverDue(ctx)
	if got := deliveriesOf(t, st, "h")[0]; got.State != store.DeliveryDelivered {
		t.Errorf("with the flag the delivery is %+v; want delivered", got)
	}
}

func TestDiscordWebhookGetsADiscordBody(t *testing.T) {
	st := storetest.NewSQLite(t)(t)
	c := newClock()
	rc := newReceiver(t, "whsec_d", c.Now)
	addGlobal(t, st, "d", rc.srv.URL, FormatDiscord)
	if err := st.EmitEvent(ctx, store.Event{Event: store.EventNodeOffline, NodeID: "n1", Data: map[string]any{"name": "fra-1"}}); err != nil {
		t.Fatal(err)
	}
	c.Reach(time.Now())
	NewWorker(Config{Store: st, Now: c.Now, AllowPrivate: true}).DeliverDue(ctx)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.accepted) != 1 {
		t.Fatalf("receiver accepted %d, rejected %v", len(rc.accepted), rc.rejected)
	}
	var msg struct {
		Content string            `json:"content"`
		Embeds  []json.RawMessage `json:"embeds"`
	}
	if err := json.Unmarshal(rc.accepted[0].body, &msg); err != nil || msg.Content != "Berth: fra-1 went offline" || len(msg.Embeds) != 1 {
		t.Errorf("discord body %s: %v", rc.accepted[0].body, err)
	}
}

// TestRunStopsWithItsContext checks that Run delivers and returns once
// its context ends.
func TestRunStopsWithItsContext(t *testing.T) {
	st := storetest.NewSQLite(t)(t)
	rc := newReceiver(t, "whsec_h", time.Now)
	addGlobal(t, st, "h", rc.srv.URL, FormatJSON)
	emit(t, st, 1)
	w := NewWorker(Config{Store: st, AllowPrivate: true, Interval: time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(rc.delivered()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run delivered nothing within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
}
