package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// The console of an instance: its output lines flow from one reader
// goroutine per container run (readOutput) through the supervisor into
// the instance's console hub (package console), which keeps the replay,
// throttles, and fans out to the clients; handleConsole serves each client
// over a WebSocket.

// errTooManyConsoles refuses a console connection past ConsoleConnections.
func errTooManyConsoles(limit int) error {
	return &apiError{http.StatusTooManyRequests,
		fmt.Sprintf("too many console connections to this instance (at most %d)", limit)}
}

// consoleState is the console half of a supervisor, guarded by its mutex.
type consoleState struct {
	hub *console.Hub
	// stopStats ends the stats stream, which runs while clients are
	// connected, or all the time with Config.KeepStats.
	stopStats context.CancelFunc
	// throttleWatched is set while watchThrottle runs.
	throttleWatched bool
	// stats is the last sample streamed, taken at statsAt.
	stats   nodeapi.Stats
	statsAt time.Time
}

// ringMatchesLocked reports whether a line kept for replay shows a ready
// pattern.
func (c *consoleState) ringMatchesLocked(r readiness) bool {
	for _, l := range c.hub.Replay() {
		if r.match([]byte(l)) {
			return true
		}
	}
	return false
}

// closeClientsLocked disconnects every client.
func (c *consoleState) closeClientsLocked() {
	c.hub.CloseClients()
	if c.stopStats != nil {
		c.stopStats()
		c.stopStats = nil
	}
}

// broadcastLocked queues frame for every client.
func (s *supervisor) broadcastLocked(frame []byte) { s.cons.hub.Broadcast(frame) }

// emitLocked adds a line of the node's own (a notice) to the console; it
// is kept for replay and never throttled.
func (s *supervisor) emitLocked(line string) { s.cons.hub.Emit(line) }

// emit is emitLocked for a caller without the mutex.
func (s *supervisor) emit(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(line)
}

// readOutput reads r's console output line by line until it ends.
func (s *supervisor) readOutput(r *containerRun) {
	defer close(r.readerDone)
	console.ReadLines(r.console.Output(), s.outputLine)
}

// outputLine handles one line of output: readiness while starting, then
// the hub.
func (s *supervisor) outputLine(line []byte) {
	now := s.d.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == nodeapi.StatusStarting && s.spec.ready.match(line) {
		// After the line itself, so that clients see the cause first.
		defer s.setStateLocked(nodeapi.StatusRunning)
	}
	if s.cons.hub.Output(line, now) && !s.cons.throttleWatched {
		// Output that stops while throttled would leave the notice of
		// its end unsaid until the next line: a watcher says it.
		s.cons.throttleWatched = true
		s.d.sups.wg.Go(s.watchThrottle)
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
		case <-tick.C:
			s.mu.Lock()
			if !s.cons.hub.Settle(s.d.cfg.Now()) || s.closed {
				s.cons.throttleWatched = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

// subscribe connects a client: it gets the replay and the state at this
// instant, then every message after it, with no gap and no repeat.
func (s *supervisor) subscribe() (c *console.Client, replay []string, state string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, "", errSupervisorClosed
	}
	c, replay, ok := s.cons.hub.Subscribe()
	if !ok {
		return nil, nil, "", errTooManyConsoles(s.d.cfg.ConsoleConnections)
	}
	if s.cons.stopStats == nil {
		s.startStatsLocked()
	}
	return c, replay, s.state, nil
}

// startStatsLocked starts the stats stream. The caller holds s.mu, or
// has the supervisor to itself.
func (s *supervisor) startStatsLocked() {
	ctx, cancel := context.WithCancel(s.d.sups.ctx)
	s.cons.stopStats = cancel
	s.d.sups.wg.Go(func() { s.streamStats(ctx) })
}

// unsubscribe disconnects c; the stats stream stops with the last client,
// unless the daemon keeps it for the metrics.
func (s *supervisor) unsubscribe(c *console.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cons.hub.Unsubscribe(c) && s.cons.stopStats != nil && !s.d.cfg.KeepStats {
		s.cons.stopStats()
		s.cons.stopStats = nil
	}
}

// Errors a console command can meet.
var (
	errCommandSuspended = errors.New("instance is suspended; commands are refused")
	errNotRunning       = errors.New("the server is not running")
)

// command types line on the instance's console. The template's stop
// command is typed like any other line: power goes through the panel,
// which records the desired state and calls the power endpoint, and never
// forwards a typed stop command here.
func (s *supervisor) command(line string) error {
	s.mu.Lock()
	suspended := s.spec.suspended
	var r *containerRun
	if s.run != nil && s.run.console != nil {
		r = s.run
	}
	s.mu.Unlock()
	switch {
	case suspended:
		return errCommandSuspended
	case r == nil:
		return errNotRunning
	}
	if _, err := r.console.Write([]byte(line + "\n")); err != nil {
		return errNotRunning
	}
	return nil
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
	conn.SetReadLimit(console.MaxMessage)

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
		d.readConsole(readCtx, conn, s, c)
	})
	err = c.Send(ctx, func(ctx context.Context, frame []byte) error {
		return conn.Write(ctx, websocket.MessageText, frame)
	}, replay, state)
	switch {
	case d.sups.ctx.Err() != nil:
		_ = conn.Close(websocket.StatusGoingAway, "node shutting down")
	case c.Ended():
		_ = conn.Close(websocket.StatusGoingAway, "instance removed")
	case errors.Is(err, context.DeadlineExceeded):
		_ = conn.Close(websocket.StatusPolicyViolation, "client too slow")
	default:
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
	return nil
}

// errPowerOnConsole answers a power event sent to the node's console.
const errPowerOnConsole = "power actions go through the panel (its power endpoint, or its console), not the node's console"

// readConsole carries out the client's messages until the connection ends.
// A power event is refused: the panel decides the desired state, and its
// generation comes with every power action it sends to /v1/.../power.
func (d *Daemon) readConsole(ctx context.Context, conn *websocket.Conn, s *supervisor, c *console.Client) {
	limiter := console.NewRateLimiter(d.cfg.ConsoleCommandRate)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m nodeapi.ConsoleMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Event == "" {
			c.Reply(console.ErrorFrame(`a message is a JSON object {"event": ..., "data": ...}`))
			continue
		}
		switch m.Event {
		case nodeapi.EventCommand:
		case nodeapi.EventPower:
			c.Reply(console.ErrorFrame(errPowerOnConsole))
			continue
		default:
			c.Reply(console.ErrorFrame(fmt.Sprintf("unknown event %q: send %q", m.Event, nodeapi.EventCommand)))
			continue
		}
		if !limiter.Allow(d.cfg.Now()) {
			c.Reply(console.ErrorFrame(fmt.Sprintf("too many messages: at most %d a second; this one was dropped", d.cfg.ConsoleCommandRate)))
			continue
		}
		line := m.Text()
		if err := console.CheckCommand(line); err != nil {
			c.Reply(console.ErrorFrame(err.Error()))
			continue
		}
		if err := s.command(line); err != nil {
			c.Reply(console.ErrorFrame(err.Error()))
		}
	}
}
