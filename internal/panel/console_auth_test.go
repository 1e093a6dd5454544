package panel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/panel"
)

// dialWith opens the console at path, an admin or a client one, sending h
// with the handshake; it returns the handshake's status when the panel
// refuses it.
func (c *clientPanel) dialWith(path string, h http.Header) (*websocket.Conn, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.url, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			c.t.Fatalf("dial %s: %v", path, err)
		}
		return nil, resp.StatusCode
	}
	c.t.Cleanup(func() { conn.CloseNow() })
	return conn, http.StatusSwitchingProtocols
}

// headersOf is caller as's credential, and then name, value pairs.
func (c *clientPanel) headersOf(as string, pairs ...string) http.Header {
	c.t.Helper()
	h := http.Header{}
	c.authorize(h, as, "")
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}

// openConsole dials the console at path with h and fails unless it opens.
func (c *clientPanel) openConsole(path string, h http.Header) *websocket.Conn {
	c.t.Helper()
	conn, code := c.dialWith(path, h)
	if conn == nil {
		c.t.Fatalf("console %s: status %d, want it open", path, code)
	}
	return conn
}

func adminConsole(id string) string  { return "/api/instances/console/" + id }
func clientConsole(id string) string { return "/api/client/instances/" + id + "/console" }

// sendPower asks for a power action on the console.
func sendPower(t *testing.T, conn *websocket.Conn, action string) {
	t.Helper()
	data, _ := json.Marshal(action)
	frame, _ := json.Marshal(nodeapi.ConsoleMessage{Event: nodeapi.EventPower, Data: data})
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		t.Fatalf("send power %s: %v", action, err)
	}
}

// expectClosedWith reads until the console ends and fails unless it ended
// with a close frame of status.
func expectClosedWith(t *testing.T, conn *websocket.Conn, status websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if got := websocket.CloseStatus(err); got != status {
				t.Fatalf("console ended with %v (status %d), want status %d", err, got, status)
			}
			return
		}
	}
}

func TestReadOnlyTokenCanReadButNotChangeThroughEitherConsole(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	c.user("root", true)
	id := c.readyInstanceOf(owner, "25565")
	c.tokenFor("root read-only", "root", true)
	c.tokenFor("owner read-only", "owner", true)
	c.tokenFor("root", "root", false)

	for _, tc := range []struct{ front, as, path string }{
		{"admin", "root read-only", adminConsole(id)},
		{"client", "owner read-only", clientConsole(id)},
	} {
		conn := c.openConsole(tc.path, c.headersOf(tc.as))
		sendCommand(t, conn, "op mallory")
		if msg := readConsoleError(t, conn); !strings.Contains(msg, "read-only") {
			t.Errorf("%s console: a read-only token's command was answered %q, want a read-only refusal", tc.front, msg)
		}
		sendPower(t, conn, "kill")
		if msg := readConsoleError(t, conn); !strings.Contains(msg, "read-only") {
			t.Errorf("%s console: a read-only token's kill was answered %q, want a read-only refusal", tc.front, msg)
		}
	}
	if in, _ := c.st.InstanceByID(context.Background(), id); in.Desired != nodeapi.DesiredRunning {
		t.Errorf("a refused kill changed the desired state to %s", in.Desired)
	}
	if n := len(stdin(c.node, id)); n != 0 {
		t.Errorf("the node got %d frames from read-only consoles", n)
	}
	// The admin's own token, not read-only, still types.
	conn := c.openConsole(adminConsole(id), c.headersOf("root"))
	sendCommand(t, conn, "say hello")
	waitUntil(t, "say hello on the server's input", func() bool { return slices.Contains(stdin(c.node, id), "say hello") })
}

func TestSuspendedInstanceRefusesCommandsOnEitherConsole(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	c.expect(200, "POST", "/api/instances/suspend/"+id, nil)
	for _, tc := range []struct {
		front, path string
		h           http.Header
	}{
		{"admin (the API key)", adminConsole(id), http.Header{"x-api-key": {c.key}}},
		{"client (the owner)", clientConsole(id), c.headersOf("owner")},
	} {
		conn := c.openConsole(tc.path, tc.h)
		sendCommand(t, conn, "say hello")
		if msg := readConsoleError(t, conn); !strings.Contains(msg, "suspended") {
			t.Errorf("%s console: a command to a suspended instance was answered %q", tc.front, msg)
		}
	}
	if n := len(stdin(c.node, id)); n != 0 {
		t.Errorf("the node got %d commands for a suspended instance", n)
	}
}

// TestConsoleEndsWhenItsCredentialDoes opens consoles with credentials
// that then stop working, each its own way, and checks that the next
// command or power action is refused and the console closed.
func TestConsoleEndsWhenItsCredentialDoes(t *testing.T) {
	c := newClientPanel(t)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	var keyID, subuser string
	subusers := 0

	for _, tc := range []struct {
		name string
		// open opens the console; end makes its credential stop working.
		open func() *websocket.Conn
		end  func()
	}{
		{"sign-out", func() *websocket.Conn {
			c.sessionFor("leaver", "owner")
			return c.openConsole(clientConsole(id), c.headersOf("leaver"))
		}, func() {
			c.expectAs(204, "leaver", "POST", "/auth/logout", nil)
		}},
		{"password change elsewhere", func() *websocket.Conn {
			c.sessionFor("old browser", "owner")
			c.sessionFor("new browser", "owner")
			return c.openConsole(clientConsole(id), c.headersOf("old browser"))
		}, func() {
			c.expectAs(204, "new browser", "POST", "/api/client/account/password",
				map[string]any{"current": userPassword, "new": "another long password"})
			c.expectAs(204, "new browser", "POST", "/api/client/account/password",
				map[string]any{"current": "another long password", "new": userPassword})
		}},
		{"token deletion", func() *websocket.Conn {
			c.tokenFor("script", "owner", false)
			return c.openConsole(clientConsole(id), c.headersOf("script"))
		}, func() {
			c.expectAs(204, "script (signing in)", "DELETE", "/api/client/account/tokens/"+c.credentialID("script"), nil)
		}},
		{"key revocation", func() *websocket.Conn {
			k := c.expect(201, "POST", "/api/keys", map[string]any{"name": "console"}).object(t)
			keyID = k["id"].(string)
			return c.openConsole(adminConsole(id), http.Header{"x-api-key": {k["key"].(string)}})
		}, func() {
			c.expect(204, "DELETE", "/api/keys/"+keyID, nil)
		}},
		{"user deletion", func() *websocket.Conn {
			subusers++
			name := "subuser" + itoa(subusers)
			subuser = c.user(name, false)
			c.grant(id, subuser, access.ConsoleRead, access.ConsoleWrite, access.Power)
			c.sessionFor("subuser", name)
			return c.openConsole(clientConsole(id), c.headersOf("subuser"))
		}, func() {
			c.expect(204, "DELETE", "/api/users/"+subuser, nil)
		}},
	} {
		for _, event := range []string{nodeapi.EventCommand, nodeapi.EventPower} {
			conn := tc.open()
			tc.end()
			if event == nodeapi.EventCommand {
				sendCommand(t, conn, "op mallory")
			} else {
				sendPower(t, conn, "kill")
			}
			if msg := readConsoleError(t, conn); !strings.Contains(msg, "no longer works") {
				t.Errorf("%s, then a %s: answered %q, want the credential refused", tc.name, event, msg)
			}
			expectClosedWith(t, conn, websocket.StatusPolicyViolation)
		}
	}
	if n := len(stdin(c.node, id)); n != 0 {
		t.Errorf("the node got %d commands from ended credentials", n)
	}
	if in, _ := c.st.InstanceByID(context.Background(), id); in.Desired != nodeapi.DesiredRunning {
		t.Errorf("a kill on an ended credential changed the desired state to %s", in.Desired)
	}
}

func TestIdleConsoleClosesOnTheTickAfterItsCredentialEnds(t *testing.T) {
	p := newPanel(t, panel.Config{})
	ticks := make(chan time.Time)
	checked := make(chan error, 1)
	panel.SetConsoleTicks(p.server, ticks, func(err error) { checked <- err })
	c := newClientPanelOn(t, p)
	owner := c.user("owner", false)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	conn := c.openConsole(clientConsole(id), c.headersOf("owner"))

	// A tick while the session lives leaves the console open.
	ticks <- time.Now()
	if err := receive(t, checked, "re-check"); err != nil {
		t.Fatalf("the re-check of a live session: %v", err)
	}
	sendCommand(t, conn, "say still here")
	waitUntil(t, "say still here on the server's input", func() bool { return slices.Contains(stdin(c.node, id), "say still here") })
	c.expectAs(204, "owner", "POST", "/auth/logout", nil)
	// Nothing is sent: the tick alone finds the session gone.
	ticks <- time.Now()
	if err := receive(t, checked, "re-check"); err == nil {
		t.Fatal("the re-check passed a signed-out session")
	}
	if msg := readConsoleError(t, conn); !strings.Contains(msg, "no longer works") {
		t.Errorf("after the tick: %q, want the credential refused", msg)
	}
	expectClosedWith(t, conn, websocket.StatusPolicyViolation)
}

func TestCookieConsoleAcceptsOnlyThePanelsOwnOrigins(t *testing.T) {
	c := newClientPanelOn(t, newPanel(t, panel.Config{PublicURL: "https://panel.example"}))
	owner := c.user("owner", false)
	c.user("root", true)
	id := c.readyInstanceOf(owner, "25565")
	c.sessionFor("owner", "owner")
	c.sessionFor("root", "root")
	c.tokenFor("script", "owner", false)
	own := c.url // http://127.0.0.1:port, the request's scheme and host
	host := strings.TrimPrefix(own, "http://")

	for _, tc := range []struct {
		name, as, path string
		headers        []string
		want           int
	}{
		{"no Origin (a tool)", "owner", clientConsole(id), nil, 101},
		{"the panel's own origin", "owner", clientConsole(id), []string{"Origin", own}, 101},
		{"the public URL's origin", "owner", clientConsole(id), []string{"Origin", "https://panel.example"}, 101},
		{"a browser's same-origin", "owner", clientConsole(id), []string{"Origin", own, "Sec-Fetch-Site", "same-origin"}, 101},
		{"another site", "owner", clientConsole(id), []string{"Origin", "http://evil.example"}, 403},
		{"another site, said by the browser", "owner", clientConsole(id), []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"the panel's host on another scheme", "owner", clientConsole(id), []string{"Origin", "https://" + host}, 403},
		{"the public URL's host on another scheme", "owner", clientConsole(id), []string{"Origin", "http://panel.example"}, 403},
		{"a sibling site", "owner", clientConsole(id), []string{"Origin", "https://evil.panel.example", "Sec-Fetch-Site", "same-site"}, 403},
		{"another site, on the admin console", "root", adminConsole(id), []string{"Origin", "http://evil.example"}, 403},
		{"the public URL, on the admin console", "root", adminConsole(id), []string{"Origin", "https://panel.example"}, 101},
		// A token is sent by its holder, not by a browser on its own.
		{"a token from anywhere", "script", clientConsole(id), []string{"Origin", "http://evil.example"}, 101},
	} {
		conn, code := c.dialWith(tc.path, c.headersOf(tc.as, tc.headers...))
		if code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
		}
		if conn != nil {
			conn.CloseNow()
		}
	}
	// An admin key, likewise.
	if conn, code := c.dialWith(adminConsole(id), http.Header{"x-api-key": {c.key}, "Origin": {"http://evil.example"}}); code != 101 {
		t.Errorf("an admin key from anywhere: %d, want 101", code)
	} else {
		conn.CloseNow()
	}
}

// receive waits, within failBound, for what ch brings.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failBound)
	defer cancel()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("no %s arrived", what)
	}
	panic("unreachable")
}
