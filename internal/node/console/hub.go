// Package console is the hub of an instance's console: it keeps the
// output lines a client gets as a replay on connecting, throttles output
// past a rate, and fans lines, status and stats frames out to the
// connected clients, each through a queue of its own. Fan-out never
// blocks: a client whose queue is full loses its oldest frames, so a slow
// browser can never stall the container's output.
//
// The package knows nothing of containers or WebSockets: the node's
// supervisor feeds the hub, and its HTTP handler drains each client.
package console

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are one instance's console limits.
type Limits struct {
	// Lines is how many output lines the replay keeps.
	Lines int
	// LineRate is the output lines per second let through to the clients;
	// past it, lines are dropped, with one notice, until the rate falls.
	LineRate int
	// Connections caps the clients of one instance.
	Connections int
}

// Client queue bounds, in frames.
const (
	// minClientQueue and maxClientQueue bound how many frames wait for a
	// slow client before the oldest are dropped: twice the line rate, so
	// that a burst the throttle lets through fits.
	minClientQueue = 1024
	maxClientQueue = 16384
	// replyQueue is how many answers (errors) wait for a client.
	replyQueue = 64
)

// WriteTimeout closes a connection that takes no frame for this long.
const WriteTimeout = 30 * time.Second

// Hub is one instance's console. It is not safe for concurrent use: its
// owner (the instance's supervisor) calls it under its own mutex, which
// also orders the hub's frames with the power states they report. Its
// Clients are drained concurrently, each by its own connection.
type Hub struct {
	limits   Limits
	ring     ring
	clients  map[*Client]struct{}
	throttle throttle
}

// NewHub returns the console of an instance with limits l.
func NewHub(l Limits) *Hub {
	return &Hub{
		limits:  l,
		ring:    ring{lines: make([]string, l.Lines)},
		clients: map[*Client]struct{}{},
	}
}

// Seed fills the replay with lines from the container's log, when the
// daemon adopts a running container and has no output of its own.
func (h *Hub) Seed(lines []string) {
	if h.ring.len() > 0 {
		return
	}
	for _, l := range lines {
		h.ring.add(l)
	}
}

// Replay returns the lines kept for replay, oldest first.
func (h *Hub) Replay() []string { return h.ring.snapshot() }

// Emit adds a line of the node's own (a notice) to the console; it is
// kept for replay and never throttled.
func (h *Hub) Emit(line string) {
	h.ring.add(line)
	if len(h.clients) > 0 {
		h.Broadcast(OutputFrame(line))
	}
}

// Output handles one line of the instance's output at now: the throttle,
// then the replay and the clients. It reports whether the line was
// dropped by the throttle, which then needs Settle called until it ends.
func (h *Hub) Output(line []byte, now time.Time) (dropped bool) {
	ok, notice := h.throttle.admit(now, h.limits.LineRate)
	if notice != "" {
		h.Emit(notice)
	}
	if !ok {
		return true
	}
	text := string(line)
	h.ring.add(text)
	if len(h.clients) > 0 {
		h.Broadcast(OutputFrame(text))
	}
	return false
}

// Settle ends the throttling of output that has calmed down by now, with
// its notice, even when no further line comes to do it. It reports whether
// the output is still throttled.
func (h *Hub) Settle(now time.Time) (throttled bool) {
	if notice := h.throttle.settle(now, h.limits.LineRate); notice != "" {
		h.Emit(notice)
	}
	return h.throttle.active
}

// Broadcast queues frame for every client.
func (h *Hub) Broadcast(frame []byte) {
	for c := range h.clients {
		c.push(frame)
	}
}

// Clients is how many clients are connected.
func (h *Hub) Clients() int { return len(h.clients) }

// Subscribe connects a client, which gets every frame broadcast after
// this call; replay is what it should be shown first. ok is false when
// the instance has Limits.Connections clients already.
func (h *Hub) Subscribe() (c *Client, replay []string, ok bool) {
	if len(h.clients) >= h.limits.Connections {
		return nil, nil, false
	}
	c = newClient(h.limits.LineRate)
	h.clients[c] = struct{}{}
	return c, h.ring.snapshot(), true
}

// Unsubscribe disconnects c and reports whether it was the last client.
// Disconnecting a client twice is harmless.
func (h *Hub) Unsubscribe(c *Client) (last bool) {
	if _, ok := h.clients[c]; !ok {
		return false
	}
	delete(h.clients, c)
	c.end()
	return len(h.clients) == 0
}

// CloseClients disconnects every client.
func (h *Hub) CloseClients() {
	for c := range h.clients {
		c.end()
	}
	clear(h.clients)
}

// ring keeps the last len(lines) output lines.
type ring struct {
	lines []string
	next  int
	full  bool
}

func (r *ring) add(line string) {
	if len(r.lines) == 0 {
		return
	}
	r.lines[r.next] = line
	r.next++
	if r.next == len(r.lines) {
		r.next, r.full = 0, true
	}
}

func (r *ring) len() int {
	if r.full {
		return len(r.lines)
	}
	return r.next
}

// snapshot returns the kept lines, oldest first.
func (r *ring) snapshot() []string {
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	out := make([]string, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}

// throttle counts an instance's output lines in one-second windows. Past
// the limit it drops lines, with one notice, until a whole window stays
// under the limit again.
type throttle struct {
	windowStart time.Time
	count       int
	active      bool
	dropped     int
}

// settle starts a new window once a second has passed, and ends the
// throttling when the window before stayed under limit; notice then tells
// how many lines were dropped.
func (t *throttle) settle(now time.Time, limit int) (notice string) {
	if now.Sub(t.windowStart) < time.Second {
		return ""
	}
	seen := t.count
	t.windowStart, t.count = now, 0
	if t.active && seen <= limit {
		t.active = false
		notice = fmt.Sprintf("[berth] console output resumed; %d lines were dropped", t.dropped)
		t.dropped = 0
	}
	return notice
}

// admit decides about one line at now. notice, when set, is a line to
// show the clients: that throttling began, or that it ended.
func (t *throttle) admit(now time.Time, limit int) (ok bool, notice string) {
	notice = t.settle(now, limit)
	t.count++
	switch {
	case t.active:
		t.dropped++
		return false, notice
	case t.count > limit:
		t.active, t.dropped = true, 1
		return false, fmt.Sprintf("[berth] console output throttled: more than %d lines a second; lines are dropped until it slows down", limit)
	}
	return true, notice
}

// Client is one connection's queue of frames.
type Client struct {
	// out holds output, status and stats frames. Only the hub pushes;
	// when out is full the oldest frame goes.
	out chan []byte
	// replies holds this connection's own answers (errors).
	replies chan []byte
	// dropped counts frames lost to a full queue since last reported.
	dropped atomic.Int64
	// ended is closed when the hub disconnects the client.
	ended   chan struct{}
	endOnce sync.Once
}

func newClient(lineRate int) *Client {
	return &Client{
		out:     make(chan []byte, min(max(2*lineRate, minClientQueue), maxClientQueue)),
		replies: make(chan []byte, replyQueue),
		ended:   make(chan struct{}),
	}
}

// push queues frame, dropping the oldest queued frame when full.
func (c *Client) push(frame []byte) {
	for {
		select {
		case c.out <- frame:
			return
		default:
		}
		select {
		case <-c.out:
			c.dropped.Add(1)
		default:
		}
	}
}

// Reply queues an answer for this client; answers past a full queue are
// dropped, as the client is not reading anyway.
func (c *Client) Reply(frame []byte) {
	select {
	case c.replies <- frame:
	default:
	}
}

func (c *Client) end() { c.endOnce.Do(func() { close(c.ended) }) }

// Ended reports whether the hub has disconnected the client.
func (c *Client) Ended() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

// Send writes the replay and the state, then every frame queued for c,
// through write, until ctx ends, the hub disconnects c (nil), or a write
// fails. Each write gets a context that ends after WriteTimeout.
func (c *Client) Send(ctx context.Context, write func(context.Context, []byte) error, replay []string, state string) error {
	send := func(frame []byte) error {
		wctx, cancel := context.WithTimeout(ctx, WriteTimeout)
		defer cancel()
		return write(wctx, frame)
	}
	for _, line := range replay {
		if err := send(OutputFrame(line)); err != nil {
			return err
		}
	}
	if err := send(StatusFrame(state)); err != nil {
		return err
	}
	for {
		var frame []byte
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ended:
			return nil
		case frame = <-c.replies:
		case frame = <-c.out:
			if n := c.dropped.Swap(0); n > 0 {
				notice := fmt.Sprintf("[berth] %d messages skipped: this connection reads too slowly", n)
				if err := send(OutputFrame(notice)); err != nil {
					return err
				}
			}
		}
		if err := send(frame); err != nil {
			return err
		}
	}
}
