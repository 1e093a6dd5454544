package nodeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Events of the console WebSocket, GET /v1/instances/{id}/console on the
// node and GET /api/instances/console/{id} on the panel. Every frame is a
// JSON text message {"event": ..., "data": ...}.
//
// Server to client:
//   - output: data is one line of console output, without its newline;
//   - status: data is the instance's power status (StatusRunning, ...);
//   - stats: data is a Stats object, once a second;
//   - error: data says why the client's last message was refused.
//
// Client to server:
//   - command: data is one line to type on the server's console;
//   - power: data is ActionStart, ActionStop, ActionRestart or ActionKill.
const (
	EventOutput  = "output"
	EventStatus  = "status"
	EventStats   = "stats"
	EventError   = "error"
	EventCommand = "command"
	EventPower   = "power"
)

// ConsoleMessage is one frame of the console WebSocket, either way.
type ConsoleMessage struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// IsStopCommand reports whether line, typed on the console, is the stop
// command stop (InstanceSpec.StopCommand): the same line, ignoring case and
// the spaces around it. A signal ("^SIGINT") is never typed, and an empty
// stop command matches nothing.
func IsStopCommand(line, stop string) bool {
	stop = strings.TrimSpace(stop)
	return stop != "" && !strings.HasPrefix(stop, "^") && strings.EqualFold(strings.TrimSpace(line), stop)
}

// Text returns Data read as a JSON string, or "" when it is not one.
func (m ConsoleMessage) Text() string {
	var s string
	if json.Unmarshal(m.Data, &s) != nil {
		return ""
	}
	return s
}

// Stats is one sample of an instance's resource use: the answer of GET
// /v1/instances/{id}/stats and the data of a console stats event.
type Stats struct {
	// CPUPercent is computed as `docker stats` does: 100 is one full core.
	CPUPercent float64 `json:"cpuPercent"`
	// MemoryBytes is the memory in use, page cache the kernel would
	// reclaim first excluded; MemoryLimitBytes is the hard limit.
	MemoryBytes      uint64 `json:"memoryBytes"`
	MemoryLimitBytes uint64 `json:"memoryLimitBytes"`
	// RxBytes and TxBytes count network traffic since the container
	// started.
	RxBytes uint64 `json:"rxBytes"`
	TxBytes uint64 `json:"txBytes"`
	// DiskBytes is what the instance's data folder holds, as last
	// measured (a cached figure, not a walk per request).
	DiskBytes int64 `json:"diskBytes"`
	// UptimeSeconds is how long the process has been running; 0 when it
	// is not.
	UptimeSeconds int64 `json:"uptimeSeconds"`
}

// consoleHandshakeTimeout bounds dialing the console WebSocket.
const consoleHandshakeTimeout = 15 * time.Second

// Stats samples the instance's resource use.
func (c *Client) Stats(ctx context.Context, id string) (Stats, error) {
	return callInstance[Stats](ctx, c, readTimeout, http.MethodGet, id, "/stats", nil)
}

// DialConsole opens the instance's console WebSocket. The node's refusal
// (404, 429, ...) comes back as *Error, with its fault kind. The caller closes the connection; ctx bounds only the handshake.
func (c *Client) DialConsole(ctx context.Context, id string) (*websocket.Conn, error) {
	p, err := instancePath(id, "/console")
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, consoleHandshakeTimeout)
	defer cancel()
	header := http.Header{}
	if c.token != "" {
		header.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := websocket.Dial(hctx, c.base+p, &websocket.DialOptions{
		HTTPClient:      c.http,
		HTTPHeader:      header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			return nil, readError("GET "+p, resp)
		}
		return nil, noAnswer("GET "+p, err)
	}
	return conn, nil
}
