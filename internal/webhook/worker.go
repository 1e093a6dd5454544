package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/netguard"
	"github.com/berth-dev/berth/internal/store"
)

// Delivery's limits and pace.
const (
	// Timeout bounds one attempt: connect, send, answer.
	Timeout = 10 * time.Second
	// MaxAttempts is how many attempts a delivery gets before it fails.
	// With backoff's waits (30s doubling to 30m, plus jitter) the last
	// comes over two hours after the first.
	MaxAttempts = 10
	// lease is how long a claimed delivery stays out of the other
	// workers' reach: past Timeout with room to record the outcome. A
	// worker that dies mid-attempt leaves the row due once it ends.
	lease = 3 * Timeout
	// batch is how many due deliveries one pass takes, and parallel how
	// many of them are attempted at once.
	batch    = 50
	parallel = 4
	// keepLog is how long finished deliveries stay in the log.
	keepLog = 30 * 24 * time.Hour
	// answerSnippet is how much of a refusing answer's body is kept in
	// the log; answerDrain is how much more is read, bounded, so that the
	// connection can be reused.
	answerSnippet = 200
	answerDrain   = 64 << 10
)

// ErrRefused wraps a delivery refused by the address guard: its host is,
// or resolved to, a private, loopback or link-local address.
var ErrRefused = errors.New("webhook address refused")

// errUnsendable wraps a delivery that no retry can send: a stored event or
// address that no longer reads.
var errUnsendable = errors.New("cannot be sent")

// Config tunes a Worker. Zero values take the defaults.
type Config struct {
	Store *store.Store
	Log   *slog.Logger
	// Now is the worker's clock; nil means time.Now.
	Now func() time.Time
	// Interval is how often the queue is read (5s).
	Interval time.Duration
	// AllowPrivate lets deliveries reach private, loopback and link-local
	// addresses (-allow-private-webhooks).
	AllowPrivate bool
}

// Worker sends the queued deliveries.
type Worker struct {
	cfg       Config
	client    *http.Client
	lastPrune time.Time
}

// NewWorker returns a Worker; Run starts it.
func NewWorker(cfg Config) *Worker {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	return &Worker{cfg: cfg, client: newClient(cfg.AllowPrivate)}
}

// newClient is the delivery client: the guard on its dialer judges every
// address a host name resolves to at connect time, so a name that
// resolves to a public address when checked and a private one when
// dialled (DNS rebinding) is refused all the same. No proxy, whose address
// would be the one judged, and no redirects, which would send the signed
// body where the webhook's owner did not say.
func newClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: Timeout, Control: netguard.DialControl(allowPrivate, ErrRefused, AllowHint)}
	return &http.Client{
		Timeout: Timeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   Timeout,
			ResponseHeaderTimeout: Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers what is due every Interval until ctx ends, then returns
// once the attempt in flight has ended.
func (w *Worker) Run(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	for {
		w.DeliverDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// DeliverDue makes one attempt at each delivery due now that this worker
// wins the claim of, and returns how many it attempted.
func (w *Worker) DeliverDue(ctx context.Context) int {
	now := w.cfg.Now()
	if now.Sub(w.lastPrune) > time.Hour {
		if err := w.cfg.Store.PruneDeliveries(ctx, now.Add(-keepLog)); err != nil && ctx.Err() == nil {
			w.cfg.Log.Error("webhooks: prune the delivery log", "err", err)
		}
		w.lastPrune = now
	}
	// A list that failed in part still holds the rows that did not.
	due, err := w.cfg.Store.DueDeliveries(ctx, now, batch)
	if err != nil && ctx.Err() == nil {
		w.cfg.Log.Error("webhooks: list due deliveries", "err", err)
	}
	// A few attempts at once, so that one receiver that times out does
	// not hold up every other's deliveries.
	var n atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, d := range due {
		if ctx.Err() != nil {
			break
		}
		// The claim waits for a free slot, so that the lease runs from
		// the attempt's start.
		sem <- struct{}{}
		leaseEnd := w.cfg.Now().Add(lease)
		won, err := w.cfg.Store.ClaimDelivery(ctx, d.ID, d.NextAttemptAt, leaseEnd)
		if err != nil || !won {
			if err != nil {
				w.cfg.Log.Error("webhooks: claim delivery", "delivery_id", d.ID, "err", err)
			}
			<-sem
			continue
		}
		n.Add(1)
		wg.Go(func() {
			defer func() { <-sem }()
			outcome := w.attempt(ctx, d)
			// A worker stopped mid-attempt records nothing: the lease's
			// end makes the row due again.
			if err := w.cfg.Store.FinishDelivery(ctx, d.ID, leaseEnd, outcome); err != nil && ctx.Err() == nil {
				w.cfg.Log.Error("webhooks: record delivery", "delivery_id", d.ID, "err", err)
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}

// attempt sends one delivery and says what comes of it. d.Attempts counts
// the attempts before this one.
func (w *Worker) attempt(ctx context.Context, d store.DueDelivery) store.DeliveryOutcome {
	status, err := w.send(ctx, d)
	now := w.cfg.Now()
	out := store.DeliveryOutcome{Status: status, At: now, Next: now}
	switch {
	case err == nil:
		out.State = store.DeliveryDelivered
		return out
	case errors.Is(err, ErrRefused) || errors.Is(err, errUnsendable):
		// Neither the guard's answer nor a broken row changes with time:
		// fail at once.
		out.State, out.Error = store.DeliveryFailed, err.Error()
	case d.Attempts+1 >= MaxAttempts:
		out.State, out.Error = store.DeliveryFailed, err.Error()
	default:
		out.State, out.Error, out.Next = store.DeliveryPending, err.Error(), now.Add(backoff(d.Attempts))
	}
	// The webhook's address is not logged: a Discord webhook's holds its
	// token.
	w.cfg.Log.Warn("webhook delivery failed", "delivery_id", d.ID, "webhook_id", d.WebhookID, "event", d.Event,
		"attempt", d.Attempts+1, "state", out.State, "err", out.Error)
	return out
}

// send POSTs the delivery and returns the answer's status; any status
// but 2xx is an error, with the start of the answer's body.
func (w *Worker) send(ctx context.Context, d store.DueDelivery) (int, error) {
	body, err := Body(d.Format, d.Body)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errUnsendable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: the address does not read as a URL", errUnsendable)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Berth-Webhooks")
	req.Header.Set(SignatureHeader, Sign(d.Secret, w.cfg.Now(), body))
	req.Header.Set("X-Berth-Event", d.Event)
	req.Header.Set("X-Berth-Delivery", d.ID)
	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error repeats the address, which may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, answerSnippet))
	io.Copy(io.Discard, io.LimitReader(resp.Body, answerDrain))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil
	}
	msg := fmt.Sprintf("answered %d", resp.StatusCode)
	if s := strings.TrimSpace(strings.ToValidUTF8(string(head), "")); s != "" {
		msg += ": " + s
	}
	return resp.StatusCode, errors.New(msg)
}

// backoff is the wait after failed attempt n+1 (n counts the earlier
// ones): 30s doubling to a cap of 30 minutes, lengthened by up to a
// quarter at random so that the retries of many deliveries spread out.
// Never shortened, so MaxAttempts attempts span over two hours.
func backoff(n int) time.Duration {
	d := min(30*time.Second<<min(n, 6), 30*time.Minute)
	return d + rand.N(d/4+1)
}
