package panel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// The console WebSocket, GET /api/instances/console/{id}, is a proxy to
// the node's: browsers never hold a node's token. Frames from the node
// (output, status, stats, error) pass through unchanged. Of the client's
// frames, commands go on to the node, which applies its rate cap and
// refuses them while the instance is suspended, and power actions are
// carried out here, as POST /api/instances/power/{id} does, so that the
// panel's desired state stays the truth. The template's stop command,
// typed, is such a power action: a stop.
//
// A console outlives the request that opened it, not its credential: the
// credential is checked again before each command or power action, and
// every consoleRecheckEvery while the console is open, and the console is
// closed (policy violation) once it no longer works: the session ended,
// the token or key was deleted, the user was.

// Console proxy limits.
const (
	// consoleFrameLimit caps a frame read from either side; the node's
	// output lines are at most 64 KiB.
	consoleFrameLimit = 128 << 10
	// consoleProxyWriteTimeout closes a connection whose peer takes no
	// frame for this long.
	consoleProxyWriteTimeout = 30 * time.Second
	// consoleRecheckEvery is how often an open console's credential is
	// checked again while no frame asks for it.
	consoleRecheckEvery = 5 * time.Second
)

// console serves the console WebSocket of an instance, on the routes of
// authentication front af. What the client sends is checked frame by frame
// against what its instance front allows: a command takes console.write, a
// power action power.
func (s *Server) console(af front, f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if callerOf(r).Kind == access.Session && !s.consoleOriginAllowed(r) {
			// A page of another site would ride on the browser's
			// cookie (cross-site WebSocket hijacking). A token or a key
			// is sent by its holder, never by a browser on its own.
			return fault.New(fault.Permission, "cross-origin console connections are refused")
		}
		t, c, err := s.instanceAndNode(r, f)
		if err != nil {
			return err
		}
		node, err := c.DialConsole(r.Context(), t.in.ID)
		if err != nil {
			return nodeFault(t.in, err)
		}
		defer node.CloseNow()
		node.SetReadLimit(consoleFrameLimit)
		// The origin was checked above, for the one credential a browser
		// sends on its own; Accept's own check is not wanted.
		client, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled,
			InsecureSkipVerify: true})
		if err != nil {
			// Accept has answered the client itself.
			_ = node.Close(websocket.StatusNormalClosure, "")
			return nil
		}
		defer client.CloseNow()
		client.SetReadLimit(consoleFrameLimit)
		s.proxyConsole(r, af, t, client, node)
		return nil
	}
}

// Actions asked for on the console, beyond reading it.
var (
	consoleCommand     = access.Action{Need: access.ConsoleWrite, Change: true}
	consolePowerAction = access.Action{Need: access.Power, Change: true}
)

// consoleOriginAllowed reports whether a console upgrade with a session
// cookie comes from one of the panel's own pages, as the cookie routes
// require (see crossOriginProtection): the browser says it is same-origin,
// or its Origin is the request's own scheme and host, or the public URL's;
// or it comes from no page at all (tools send no Origin).
func (s *Server) consoleOriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	public := publicOrigin(s.cfg.PublicURL)
	switch r.Header.Get("Sec-Fetch-Site") {
	case "":
	case "same-origin", "none":
		return true
	default:
		return origin != "" && strings.EqualFold(origin, public)
	}
	if origin == "" {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host) || public != "" && strings.EqualFold(origin, public)
}

// credentialGone is how the console closes once its credential no longer
// works.
const credentialGone = "the credential of this console no longer works: sign in again"

// consoleRecheck is what an open console asks of its credential: the
// principal it stands for now, or an error, a Permission fault when the
// credential no longer works for af.
func (s *Server) consoleRecheck(r *http.Request, af front) func(ctx context.Context) (access.Principal, error) {
	return func(ctx context.Context) (access.Principal, error) {
		r := r.WithContext(ctx)
		c, err := s.identify(r)
		if err == nil {
			err = s.admit(af, c, r)
		}
		return c.Principal, err
	}
}

// credentialRefused reports whether err, from a console's re-check, says
// the credential no longer works, rather than that the check itself failed.
func credentialRefused(err error) bool {
	return fault.Is(err, fault.Permission)
}

// recheckTicks paces the re-checks of an open console: a ticker, or the
// test's channel.
func (s *Server) recheckTicks() (<-chan time.Time, func()) {
	if s.consoleTicks != nil {
		return s.consoleTicks, func() {}
	}
	t := time.NewTicker(consoleRecheckEvery)
	return t.C, t.Stop
}

// proxyConsole relays frames between client and node until either ends;
// the end of one is passed to the other as a close frame.
func (s *Server) proxyConsole(r *http.Request, af front, t target, client, node *websocket.Conn) {
	in := t.in
	// Reads end after the close handshakes: coder/websocket closes a
	// connection outright when a read's context ends. So the panel's
	// shutdown ends the console by closing the client's side, with a close
	// frame; the rest follows as when the client leaves. The request's
	// values (its id, its principal) stay.
	readCtx, stopReading := context.WithCancel(context.WithoutCancel(r.Context()))
	defer stopReading()
	stopOnShutdown := context.AfterFunc(s.base, func() {
		_ = client.Close(websocket.StatusGoingAway, "the panel is shutting down")
	})
	defer stopOnShutdown()
	send := func(conn *websocket.Conn, frame []byte) error {
		wctx, cancel := context.WithTimeout(readCtx, consoleProxyWriteTimeout)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, frame)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			_, frame, err := node.Read(readCtx)
			if err != nil {
				// The node ended it: shutting down, or the instance was
				// removed. A client already gone makes this a no-op.
				_ = client.Close(websocket.StatusGoingAway, "the node ended the console")
				return
			}
			if err := send(client, frame); err != nil {
				_ = node.Close(websocket.StatusNormalClosure, "")
				return
			}
		}
	})

	// The credential is checked again on every tick; once it no longer
	// works, the console is closed, which ends the loop below.
	recheck := s.consoleRecheck(r, af)
	refuse := func() {
		_ = send(client, consoleError(credentialGone))
		_ = client.Close(websocket.StatusPolicyViolation, "the credential no longer works")
	}
	ticks, stopTicks := s.recheckTicks()
	defer stopTicks()
	tickCtx, stopTicking := context.WithCancel(readCtx)
	defer stopTicking()
	wg.Go(func() {
		for {
			select {
			case <-tickCtx.Done():
				return
			case <-ticks:
			}
			_, err := recheck(tickCtx)
			if s.consoleChecked != nil {
				s.consoleChecked(err)
			}
			switch {
			case err == nil:
			case credentialRefused(err):
				refuse()
				return
			case tickCtx.Err() == nil:
				// The check itself failed: the frames are checked
				// again anyway, and the next tick tries again.
				s.logError(r, "console credential", err)
			}
		}
	})

	// A power action outlives a client that leaves mid-stop.
	powerCtx := context.WithoutCancel(r.Context())
	var powerBusy atomic.Bool
	reply := func(msg string) { _ = send(client, consoleError(msg)) }
	power := func(action string) {
		if !powerBusy.CompareAndSwap(false, true) {
			reply("a power action asked for on this connection is still running")
			return
		}
		wg.Go(func() {
			msg := s.consolePower(powerCtx, r, in.ID, action)
			powerBusy.Store(false)
			if msg != "" {
				reply(msg)
			}
		})
	}
	stop := s.stopCommand(readCtx, r, in)
	// p is the principal as last found again, for a frame's actions.
	var p access.Principal
	for {
		_, frame, err := client.Read(readCtx)
		if err != nil {
			break
		}
		var m nodeapi.ConsoleMessage
		if json.Unmarshal(frame, &m) != nil || m.Event == "" {
			reply(`a message is a JSON object {"event": ..., "data": ...}`)
			continue
		}
		if m.Event == nodeapi.EventCommand || m.Event == nodeapi.EventPower {
			var err error
			if p, err = recheck(readCtx); err != nil {
				if credentialRefused(err) {
					refuse()
					break
				}
				reply(s.refusal(r, err))
				continue
			}
		}
		switch m.Event {
		case nodeapi.EventCommand:
			if err := t.may(readCtx, p, consoleCommand); err != nil {
				reply(s.refusal(r, err))
				continue
			}
			// The node refuses commands to a suspended instance once the
			// suspension reaches it; the database knows first.
			if cur, err := s.store.InstanceByID(readCtx, in.ID); err == nil && cur.Suspended {
				reply("instance is suspended; commands are refused")
				continue
			}
			if nodeapi.IsStopCommand(m.Text(), stop) {
				// Typed, the stop command is a stop like any other: the
				// desired state records it, and the node is told with its
				// generation, so the reconciler does not start it again.
				power(nodeapi.ActionStop)
				continue
			}
			if send(node, frame) == nil {
				s.record(r, store.AuditEntry{Action: "instance.console.command", InstanceID: in.ID, Target: in.ID,
					Detail: shorten(m.Text(), maxRecordedCommand)})
			}
		case nodeapi.EventPower:
			action := m.Text()
			if !isPowerAction(action) {
				reply(fmt.Sprintf("unknown power action %q: send start, stop, restart or kill", action))
				continue
			}
			if err := t.may(readCtx, p, consolePowerAction); err != nil {
				reply(action + ": " + s.refusal(r, err))
				continue
			}
			power(action)
		default:
			reply(fmt.Sprintf("unknown event %q: send %q or %q", m.Event, nodeapi.EventCommand, nodeapi.EventPower))
		}
	}
	_ = node.Close(websocket.StatusNormalClosure, "")
	_ = client.Close(websocket.StatusNormalClosure, "")
}

// stopCommand is the console line that stops in, from its template, or ""
// when it has none or it cannot be read (the line then goes to the node).
func (s *Server) stopCommand(ctx context.Context, r *http.Request, in store.Instance) string {
	spec, err := dispatch.Spec(ctx, s.store, in)
	if err != nil {
		s.logError(r, "console stop command", err)
		return ""
	}
	return spec.StopCommand
}

// consolePower carries out a power action asked for on the console and
// returns what to tell the client of a failure, or "". The new state
// reaches the client from the node, as a status event.
func (s *Server) consolePower(ctx context.Context, r *http.Request, id, action string) string {
	ctx, cancel := context.WithTimeout(ctx, powerTimeout)
	defer cancel()
	in, err := s.store.InstanceByID(ctx, id)
	if err == nil {
		_, err = s.applyPower(ctx, r, in, action)
	}
	if err == nil || ctx.Err() != nil {
		return ""
	}
	return action + ": " + s.refusal(r, err)
}

// refusal is what the console tells its client of err: its message, or,
// for an unexpected error, which is logged, the request's id.
func (s *Server) refusal(r *http.Request, err error) string {
	if msg := fault.Message(err); msg != "" {
		return msg
	}
	s.logError(r, "console", err)
	return "internal error (request " + requestID(r) + ")"
}

// maxRecordedCommand bounds the text of a console command the activity log
// keeps.
const maxRecordedCommand = 200

// shorten cuts s to at most n bytes, on a character boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// consoleError is an error event.
func consoleError(msg string) []byte {
	data, _ := json.Marshal(msg)
	b, _ := json.Marshal(nodeapi.ConsoleMessage{Event: nodeapi.EventError, Data: data})
	return b
}
