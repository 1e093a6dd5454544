// Package console is the hub of an instance's console: it keeps the
// output lines a client gets as a replay on connecting, throttles output
// past a rate, and fans lines, status and stats frames out to the
// connected clients, each through a queue of its own. Fan-out never
// blocks: a client whose queue is full loses its oldest frames, so a slow
// browser can never stall the container's output.
//
// Memory is bounded in bytes, not only in lines, whatever the game prints
// and however many clients stall. The budget of one instance's hub:
//
//   - a line is at most MaxLineBytes (16 KiB); a longer one is cut, with a
//     marker saying so;
//   - the replay ring holds at most Limits.Lines lines and RingBytes (1 MiB);
//   - each client's queue holds at most QueueBytes (256 KiB) of frames,
//     and ReplyBytes (16 KiB) of its own answers, the oldest frames going
//     first;
//   - there are at most Limits.Connections clients (16 by default).
//
// So a hub holds at most RingBytes + Connections x (QueueBytes +
// ReplyBytes), 5.25 MiB with the defaults (HeldBytes counts it), plus the
// one frame each connection is writing. The throttle lets at most
// Limits.LineRate lines and Limits.ByteRate bytes a second through.
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
	// LineRate and ByteRate are the output lines and bytes per second let
	// through to the clients; past either, lines are dropped, with one
	// notice, until the rate falls.
	LineRate int
	ByteRate int
	// Connections caps the clients of one instance.
	Connections int
}

// Byte bounds of the hub (see the package comment).
const (
	// RingBytes caps the bytes of the lines kept for replay.
	RingBytes = 1 << 20
	// QueueBytes caps the frames waiting for one client.
	QueueBytes = 256 << 10
	// ReplyBytes caps the answers (errors) waiting for one client.
	ReplyBytes = 16 << 10
)

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
	// dropped counts the output lines the throttle ever dropped.
	dropped uint64
}

// NewHub returns the console of an instance with limits l.
func NewHub(l Limits) *Hub {
	return &Hub{
		limits:  l,
		ring:    ring{max: l.Lines, maxBytes: RingBytes},
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
	ok, notice := h.throttle.admit(now, len(line), h.limits)
	if notice != "" {
		h.Emit(notice)
	}
	if !ok {
		h.dropped++
		return true
	}
	text := string(line)
	h.ring.add(text)
	if len(h.clients) > 0 {
		h.Broadcast(OutputFrame(text))
	}
	return false
}

// DroppedLines is how many output lines the throttle has dropped since
// the hub was made, for the node's metrics.
func (h *Hub) DroppedLines() uint64 { return h.dropped }

// Settle ends the throttling of output that has calmed down by now, with
// its notice, even when no further line comes to do it. It reports whether
// the output is still throttled.
func (h *Hub) Settle(now time.Time) (throttled bool) {
	if notice := h.throttle.settle(now, h.limits); notice != "" {
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

// HeldBytes is what the hub holds now: the replay's lines and every
// client's queued frames and answers. It stays within the budget of the
// package comment.
func (h *Hub) HeldBytes() int {
	n := h.ring.bytes
	for c := range h.clients {
		n += c.heldBytes()
	}
	return n
}

// ring keeps the last output lines, at most max of them and maxBytes of
// text, oldest first.
type ring struct {
	max, maxBytes int
	lines         []string
	bytes         int
}

func (r *ring) add(line string) {
	if r.max <= 0 {
		return
	}
	r.lines = append(r.lines, line)
	r.bytes += len(line)
	drop := 0
	for len(r.lines)-drop > r.max || (r.bytes > r.maxBytes && len(r.lines)-drop > 1) {
		r.bytes -= len(r.lines[drop])
		r.lines[drop] = ""
		drop++
	}
	if drop > 0 {
		// Copied down rather than resliced, so that the array does not
		// grow with every line ever added.
		r.lines = r.lines[:copy(r.lines, r.lines[drop:])]
	}
}

func (r *ring) len() int { return len(r.lines) }

// snapshot returns the kept lines, oldest first.
func (r *ring) snapshot() []string { return append([]string(nil), r.lines...) }

// throttle counts an instance's output lines and bytes in one-second
// windows. Past either limit it drops lines, with one notice, until a
// whole window stays under the limits again.
type throttle struct {
	windowStart time.Time
	count       int
	bytes       int
	active      bool
	dropped     int
}

// under reports whether a window of count lines and bytes stayed within l.
func under(count, bytes int, l Limits) bool {
	return count <= l.LineRate && (l.ByteRate <= 0 || bytes <= l.ByteRate)
}

// settle starts a new window once a second has passed, and ends the
// throttling when the window before stayed under the limits; notice then
// tells how many lines were dropped.
func (t *throttle) settle(now time.Time, l Limits) (notice string) {
	if now.Sub(t.windowStart) < time.Second {
		return ""
	}
	count, bytes := t.count, t.bytes
	// Every line counted came within a second of the window's start, as
	// a later one settles first: two seconds on, a whole second was calm.
	calm := now.Sub(t.windowStart) >= 2*time.Second
	t.windowStart, t.count, t.bytes = now, 0, 0
	if t.active && (calm || under(count, bytes, l)) {
		t.active = false
		notice = fmt.Sprintf("[berth] console output resumed; %d lines were dropped", t.dropped)
		t.dropped = 0
	}
	return notice
}

// admit decides about one line of n bytes at now. notice, when set, is a
// line to show the clients: that throttling began, or that it ended.
func (t *throttle) admit(now time.Time, n int, l Limits) (ok bool, notice string) {
	notice = t.settle(now, l)
	t.count++
	t.bytes += n
	switch {
	case t.active:
		t.dropped++
		return false, notice
	case !under(t.count, t.bytes, l):
		t.active, t.dropped = true, 1
		return false, fmt.Sprintf("[berth] console output throttled: more than %d lines or %d KiB a second; lines are dropped until it slows down",
			l.LineRate, l.ByteRate>>10)
	}
	return true, notice
}

// Client is one connection's queue of frames.
type Client struct {
	// mu guards queue, queued and dropped. Only the hub pushes; when the
	// queue is over its frames or bytes, the oldest frames go.
	mu        sync.Mutex
	queue     [][]byte
	queued    int
	maxFrames int
	// dropped counts frames lost to a full queue since last reported.
	dropped int64
	// ready is signalled after each push.
	ready chan struct{}
	// replies holds this connection's own answers (errors), replyBytes
	// long.
	replies    chan []byte
	replyBytes atomic.Int64
	// ended is closed when the hub disconnects the client.
	ended   chan struct{}
	endOnce sync.Once
}

func newClient(lineRate int) *Client {
	return &Client{
		maxFrames: min(max(2*lineRate, minClientQueue), maxClientQueue),
		ready:     make(chan struct{}, 1),
		replies:   make(chan []byte, replyQueue),
		ended:     make(chan struct{}),
	}
}

// push queues frame, dropping the oldest queued frames while the queue is
// over its bounds.
func (c *Client) push(frame []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	drop := 0
	for len(c.queue)-drop > 1 && (len(c.queue)-drop > c.maxFrames || c.queued > QueueBytes) {
		c.queued -= len(c.queue[drop])
		c.queue[drop] = nil
		drop++
	}
	if drop > 0 {
		c.queue = c.queue[:copy(c.queue, c.queue[drop:])]
		c.dropped += int64(drop)
	}
	c.mu.Unlock()
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued frame, with the count of frames dropped
// since the last pop; ok is false when the queue is empty.
func (c *Client) pop() (frame []byte, dropped int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return nil, 0, false
	}
	frame = c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	c.queued -= len(frame)
	dropped, c.dropped = c.dropped, 0
	return frame, dropped, true
}

// heldBytes is the bytes queued for c.
func (c *Client) heldBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued + int(c.replyBytes.Load())
}

// Reply queues an answer for this client; answers past a full queue are
// dropped, as the client is not reading anyway.
func (c *Client) Reply(frame []byte) {
	n := int64(len(frame))
	if c.replyBytes.Add(n) > ReplyBytes {
		c.replyBytes.Add(-n)
		return
	}
	select {
	case c.replies <- frame:
	default:
		c.replyBytes.Add(-n)
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
		for !c.Ended() {
			select {
			case frame := <-c.replies:
				c.replyBytes.Add(-int64(len(frame)))
				if err := send(frame); err != nil {
					return err
				}
			default:
			}
			frame, dropped, ok := c.pop()
			if !ok {
				break
			}
			if dropped > 0 {
				notice := fmt.Sprintf("[berth] %d messages skipped: this connection reads too slowly", dropped)
				if err := send(OutputFrame(notice)); err != nil {
					return err
				}
			}
			if err := send(frame); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ended:
			return nil
		case frame := <-c.replies:
			c.replyBytes.Add(-int64(len(frame)))
			if err := send(frame); err != nil {
				return err
			}
		case <-c.ready:
		}
	}
}
