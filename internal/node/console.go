package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// The console of an instance: its output lines flow from one reader
// goroutine per container run (readOutput) through the supervisor, which
// keeps the last ConsoleLines of them for replay, throttles them past
// ConsoleLineRate, and fans them out to the console clients. Fan-out never
// blocks: a client whose queue is full loses its oldest messages, so a
// slow browser can never stall the container's output.

// Console limits that are not configuration.
const (
	// minClientQueue and maxClientQueue bound how many messages wait for
	// a slow client before the oldest are dropped: twice the line rate, so
	// that a burst the throttle lets through fits.
	minClientQueue = 1024
	maxClientQueue = 16384
	// replyQueue is how many answers (errors) wait for a client.
	replyQueue = 64
	// maxLineBytes splits longer output lines.
	maxLineBytes = 64 << 10
	// maxConsoleMessage caps a client's frames; a command is one line.
	maxConsoleMessage = 16 << 10
	// maxCommandBytes caps one command.
	maxCommandBytes = 4096
	// consoleWriteTimeout closes a connection that takes no frame for this
	// long.
	consoleWriteTimeout = 30 * time.Second
	// consolePowerTimeout bounds a power action asked for on the console.
	consolePowerTimeout = 5 * time.Minute
)

// errTooManyConsoles refuses a console connection past ConsoleConnections.
func errTooManyConsoles(limit int) error {
	return &apiError{http.StatusTooManyRequests,
		fmt.Sprintf("too many console connections to this instance (at most %d)", limit)}
}

// consoleState is the console half of a supervisor, guarded by its mutex.
type consoleState struct {
	lineRate int
	maxConns int
	ring     ring
	clients  map[*consoleClient]struct{}
	throttle throttle
	// stopStats ends the stats stream, which runs while clients are
	// connected.
	stopStats context.CancelFunc
	// throttleWatched is set while watchThrottle runs.
	throttleWatched bool
	// stats is the last sample streamed, taken at statsAt.
	stats   nodeapi.Stats
	statsAt time.Time
}

func (c *consoleState) init(cfg Config) {
	c.lineRate = cfg.ConsoleLineRate
	c.maxConns = cfg.ConsoleConnections
	c.ring = ring{lines: make([]string, cfg.ConsoleLines)}
	c.clients = map[*consoleClient]struct{}{}
}

// seedLocked fills the replay with lines from the container's log, when
// the daemon adopts a running container and has no output of its own.
func (c *consoleState) seedLocked(lines []string) {
	if c.ring.len() > 0 {
		return
	}
	for _, l := range lines {
		c.ring.add(l)
	}
}

// ringMatchesLocked reports whether a line kept for replay shows a ready
// pattern.
func (c *consoleState) ringMatchesLocked(r readiness) bool {
	for _, l := range c.ring.snapshot() {
		if r.match([]byte(l)) {
			return true
		}
	}
	return false
}

// closeClientsLocked disconnects every client.
func (c *consoleState) closeClientsLocked() {
	for cl := range c.clients {
		cl.end()
	}
	clear(c.clients)
	if c.stopStats != nil {
		c.stopStats()
		c.stopStats = nil
	}
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

// consoleClient is one connection's queue of frames.
type consoleClient struct {
	// out holds output, status and stats frames. Only the supervisor
	// pushes, under its mutex; when out is full the oldest frame goes.
	out chan []byte
	// replies holds this connection's own answers (errors).
	replies chan []byte
	// dropped counts frames lost to a full queue since last reported.
	dropped atomic.Int64
	// ended is closed when the supervisor disconnects the client.
	ended   chan struct{}
	endOnce sync.Once
	// powerBusy is set while a power action asked for here runs.
	powerBusy atomic.Bool
}

func newConsoleClient(lineRate int) *consoleClient {
	return &consoleClient{
		out:     make(chan []byte, min(max(2*lineRate, minClientQueue), maxClientQueue)),
		replies: make(chan []byte, replyQueue),
		ended:   make(chan struct{}),
	}
}

// push queues frame, dropping the oldest queued frame when full.
func (c *consoleClient) push(frame []byte) {
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

// reply queues an answer for this client; answers past a full queue are
// dropped, as the client is not reading anyway.
func (c *consoleClient) reply(frame []byte) {
	select {
	case c.replies <- frame:
	default:
	}
}

func (c *consoleClient) end() { c.endOnce.Do(func() { close(c.ended) }) }

// broadcastLocked queues frame for every client.
func (s *supervisor) broadcastLocked(frame []byte) {
	for c := range s.console.clients {
		c.push(frame)
	}
}

// emitLocked adds a line of the node's own (a notice) to the console; it
// is kept for replay and never throttled.
func (s *supervisor) emitLocked(line string) {
	s.console.ring.add(line)
	if len(s.console.clients) > 0 {
		s.broadcastLocked(outputFrame(line))
	}
}

// emit is emitLocked for a caller without the mutex.
func (s *supervisor) emit(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(line)
}

// readOutput reads r's console output line by line until it ends.
func (s *supervisor) readOutput(r *containerRun) {
	defer close(r.readerDone)
	br := bufio.NewReaderSize(r.console.Output(), maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			s.outputLine(line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// outputLine handles one line of output: readiness while starting, then
// the throttle, the replay ring and the clients.
func (s *supervisor) outputLine(raw []byte) {
	line := bytes.TrimSuffix(raw, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == nodeapi.StatusStarting && s.spec.ready.match(line) {
		// After the line itself, so that clients see the cause first.
		defer s.setStateLocked(nodeapi.StatusRunning)
	}
	ok, notice := s.console.throttle.admit(now, s.console.lineRate)
	if notice != "" {
		s.emitLocked(notice)
	}
	if !ok {
		if !s.console.throttleWatched {
			// Output that stops while throttled would leave the notice of
			// its end unsaid until the next line: a watcher says it.
			s.console.throttleWatched = true
			s.d.sups.wg.Go(s.watchThrottle)
		}
		return
	}
	text := string(line)
	s.console.ring.add(text)
	if len(s.console.clients) > 0 {
		s.broadcastLocked(outputFrame(text))
	}
}

// throttleTick is how often watchThrottle looks at a throttled console.
const throttleTick = 250 * time.Millisecond

// watchThrottle ends the throttling of a console whose output has calmed
// down, with its notice, even when no further line comes to do it.
func (s *supervisor) watchThrottle() {
	tick := time.NewTicker(throttleTick)
	defer tick.Stop()
	for {
		select {
		case <-s.d.sups.ctx.Done():
			return
		case now := <-tick.C:
			s.mu.Lock()
			if notice := s.console.throttle.settle(now, s.console.lineRate); notice != "" {
				s.emitLocked(notice)
			}
			if !s.console.throttle.active || s.closed {
				s.console.throttleWatched = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

// subscribe connects a client: it gets the replay and the state at this
// instant, then every message after it, with no gap and no repeat.
func (s *supervisor) subscribe() (c *consoleClient, replay []string, state string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, "", errSupervisorClosed
	}
	if len(s.console.clients) >= s.console.maxConns {
		return nil, nil, "", errTooManyConsoles(s.console.maxConns)
	}
	c = newConsoleClient(s.console.lineRate)
	s.console.clients[c] = struct{}{}
	if len(s.console.clients) == 1 {
		ctx, cancel := context.WithCancel(s.d.sups.ctx)
		s.console.stopStats = cancel
		s.d.sups.wg.Go(func() { s.streamStats(ctx) })
	}
	return c, s.console.ring.snapshot(), s.state, nil
}

// unsubscribe disconnects c; the stats stream stops with the last client.
func (s *supervisor) unsubscribe(c *consoleClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.console.clients[c]; !ok {
		return
	}
	delete(s.console.clients, c)
	c.end()
	if len(s.console.clients) == 0 && s.console.stopStats != nil {
		s.console.stopStats()
		s.console.stopStats = nil
	}
}

// Errors a console command can meet.
var (
	errCommandSuspended = errors.New("instance is suspended; commands are refused")
	errNotRunning       = errors.New("the server is not running")
)

// command types line on the instance's console. A line that is the
// template's stop command is carried out as a stop, so that its exit is
// not taken for a crash; isStop reports that.
func (s *supervisor) command(line string) (isStop bool, err error) {
	s.mu.Lock()
	suspended, stop := s.spec.suspended, s.spec.stopCommand
	var r *containerRun
	if s.run != nil && s.run.console != nil {
		r = s.run
	}
	s.mu.Unlock()
	switch {
	case suspended:
		return false, errCommandSuspended
	case stop != "" && !strings.HasPrefix(stop, "^") && strings.EqualFold(strings.TrimSpace(line), strings.TrimSpace(stop)):
		return true, nil
	case r == nil:
		return false, errNotRunning
	}
	if _, err := r.console.Write([]byte(line + "\n")); err != nil {
		return false, errNotRunning
	}
	return false, nil
}

// checkCommand refuses a command that is not one line of text.
func checkCommand(line string) error {
	switch {
	case strings.TrimSpace(line) == "":
		return errors.New("command is empty")
	case len(line) > maxCommandBytes:
		return fmt.Errorf("command is longer than %d bytes", maxCommandBytes)
	case !utf8.ValidString(line):
		return errors.New("command is not valid UTF-8")
	case strings.ContainsFunc(line, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
		return errors.New("command must be one line without control characters")
	}
	return nil
}

// rateLimiter is a token bucket of rate tokens a second, rate deep.
type rateLimiter struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newRateLimiter(rate int) *rateLimiter {
	return &rateLimiter{rate: float64(rate), tokens: float64(rate)}
}

func (l *rateLimiter) allow(now time.Time) bool {
	if !l.last.IsZero() {
		l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// handleConsole is GET /v1/instances/{id}/console: the console WebSocket.
// See nodeapi's Event constants for the protocol.
func (d *Daemon) handleConsole(w http.ResponseWriter, r *http.Request) error {
	id, rec, err := d.storedInstance(r)
	if err != nil {
		return err
	}
	// The status read settles a run the waiter has not caught up with, so
	// the state the client starts from is true.
	initial, err := d.status(r.Context(), id, &rec)
	if err != nil {
		return err
	}
	s := d.sups.get(id)
	c, replay, state, err := s.subscribe()
	if err != nil {
		return err
	}
	defer s.unsubscribe(c)
	if state == nodeapi.StatusOffline {
		state = initial.Status
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		// Accept has answered the request itself.
		return nil
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxConsoleMessage)

	// Writing ends with the daemon, the request or the reader. Reading
	// ends only after the close handshake below, so that the client gets
	// a close frame with the reason (coder/websocket closes a connection
	// outright when a read's context ends).
	ctx, cancel := context.WithCancel(d.sups.ctx)
	defer cancel()
	stop := context.AfterFunc(r.Context(), cancel)
	defer stop()
	readCtx, stopReading := context.WithCancel(context.Background())
	defer stopReading()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer cancel()
		d.readConsole(readCtx, conn, id, s, c)
	})
	err = writeConsole(ctx, conn, c, replay, state)
	switch {
	case d.sups.ctx.Err() != nil:
		_ = conn.Close(websocket.StatusGoingAway, "node shutting down")
	case isClosed(c):
		_ = conn.Close(websocket.StatusGoingAway, "instance removed")
	case errors.Is(err, context.DeadlineExceeded):
		_ = conn.Close(websocket.StatusPolicyViolation, "client too slow")
	default:
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
	return nil
}

func isClosed(c *consoleClient) bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

// writeConsole sends the replay and the state, then every frame queued for
// c, until ctx ends, the client is ended, or a write fails.
func writeConsole(ctx context.Context, conn *websocket.Conn, c *consoleClient, replay []string, state string) error {
	write := func(frame []byte) error {
		wctx, cancel := context.WithTimeout(ctx, consoleWriteTimeout)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, frame)
	}
	for _, line := range replay {
		if err := write(outputFrame(line)); err != nil {
			return err
		}
	}
	if err := write(statusFrame(state)); err != nil {
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
				if err := write(outputFrame(notice)); err != nil {
					return err
				}
			}
		}
		if err := write(frame); err != nil {
			return err
		}
	}
}

// readConsole carries out the client's messages until the connection ends.
func (d *Daemon) readConsole(ctx context.Context, conn *websocket.Conn, id string, s *supervisor, c *consoleClient) {
	limiter := newRateLimiter(d.cfg.ConsoleCommandRate)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m nodeapi.ConsoleMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Event == "" {
			c.reply(errorFrame(`a message is a JSON object {"event": ..., "data": ...}`))
			continue
		}
		switch m.Event {
		case nodeapi.EventCommand, nodeapi.EventPower:
		default:
			c.reply(errorFrame(fmt.Sprintf("unknown event %q: send %q or %q", m.Event, nodeapi.EventCommand, nodeapi.EventPower)))
			continue
		}
		if !limiter.allow(time.Now()) {
			c.reply(errorFrame(fmt.Sprintf("too many messages: at most %d a second; this one was dropped", d.cfg.ConsoleCommandRate)))
			continue
		}
		if m.Event == nodeapi.EventPower {
			d.consolePower(id, m.Text(), c)
			continue
		}
		line := m.Text()
		if err := checkCommand(line); err != nil {
			c.reply(errorFrame(err.Error()))
			continue
		}
		isStop, err := s.command(line)
		switch {
		case err != nil:
			c.reply(errorFrame(err.Error()))
		case isStop:
			d.consolePower(id, nodeapi.ActionStop, c)
		}
	}
}

// consolePower runs a power action asked for on the console, in the
// background: it belongs to the daemon, not to the connection, so a client
// that leaves does not cut a stop short. Its failure is told to c.
func (d *Daemon) consolePower(id, action string, c *consoleClient) {
	switch action {
	case nodeapi.ActionStart, nodeapi.ActionStop, nodeapi.ActionRestart, nodeapi.ActionKill:
	default:
		c.reply(errorFrame(fmt.Sprintf("unknown power action %q: send start, stop, restart or kill", action)))
		return
	}
	if !c.powerBusy.CompareAndSwap(false, true) {
		c.reply(errorFrame("a power action asked for on this connection is still running"))
		return
	}
	d.sups.goAsync(func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, consolePowerTimeout)
		defer cancel()
		_, err := d.power(pctx, id, nodeapi.PowerRequest{Action: action})
		c.powerBusy.Store(false)
		if err != nil && ctx.Err() == nil {
			_, msg := classify(err)
			c.reply(errorFrame(action + ": " + msg))
		}
	})
}

// Frame encoders. Output frames are built by hand: they are the hot path,
// one per line per client.

func outputFrame(line string) []byte {
	b := make([]byte, 0, len(line)+32)
	b = append(b, `{"event":"output","data":`...)
	b = appendJSONString(b, line)
	return append(b, '}')
}

func statusFrame(state string) []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"event":"status","data":`...)
	b = appendJSONString(b, state)
	return append(b, '}')
}

func errorFrame(msg string) []byte {
	b := make([]byte, 0, len(msg)+32)
	b = append(b, `{"event":"error","data":`...)
	b = appendJSONString(b, msg)
	return append(b, '}')
}

func statsFrame(st nodeapi.Stats) []byte {
	data, _ := json.Marshal(st)
	b := make([]byte, 0, len(data)+32)
	b = append(b, `{"event":"stats","data":`...)
	b = append(b, data...)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, as encoding/json would
// (without its HTML escaping): control characters escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
