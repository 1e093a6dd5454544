package panel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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

// Console proxy limits.
const (
	// consoleFrameLimit caps a frame read from either side; the node's
	// output lines are at most 64 KiB.
	consoleFrameLimit = 128 << 10
	// consoleProxyWriteTimeout closes a connection whose peer takes no
	// frame for this long.
	consoleProxyWriteTimeout = 30 * time.Second
)

// console serves the console WebSocket of an instance. What the client
// sends is checked frame by frame against what its front allows: a
// command takes console.write, a power action power.
func (s *Server) console(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !sameOrigin(r) {
			// A page of another site would ride on the browser's
			// credentials (cross-site WebSocket hijacking).
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
		// The origin was checked above; Accept checks it again the same way.
		client, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			// Accept has answered the client itself.
			_ = node.Close(websocket.StatusNormalClosure, "")
			return nil
		}
		defer client.CloseNow()
		client.SetReadLimit(consoleFrameLimit)
		s.proxyConsole(r, t, client, node)
		return nil
	}
}

// Actions asked for on the console, beyond reading it.
var (
	consoleCommand     = access.Action{Need: access.ConsoleWrite, Change: true}
	consolePowerAction = access.Action{Need: access.Power, Change: true}
)

// sameOrigin reports whether r comes from a page of the panel's own origin,
// or from no page at all (scripts and tools send no Origin).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// proxyConsole relays frames between client and node until either ends;
// the end of one is passed to the other as a close frame.
func (s *Server) proxyConsole(r *http.Request, t target, client, node *websocket.Conn) {
	in := t.in
	// Reads end after the close handshakes: coder/websocket closes a
	// connection outright when a read's context ends. So the panel's
	// shutdown ends the console by closing the client's side, with a close
	// frame; the rest follows as when the client leaves.
	readCtx, stopReading := context.WithCancel(context.Background())
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
		switch m.Event {
		case nodeapi.EventCommand:
			if err := t.may(readCtx, consoleCommand); err != nil {
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
			if err := t.may(readCtx, consolePowerAction); err != nil {
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
