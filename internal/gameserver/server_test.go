package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 10 * time.Second

// harness runs one server in-process with piped stdin and stdout.
type harness struct {
	t       *testing.T
	stdin   *io.PipeWriter
	lines   chan string
	signals chan os.Signal
	done    chan struct{}
	code    int
}

func start(t *testing.T, cfg config) *harness {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	h := &harness{
		t:       t,
		stdin:   inW,
		lines:   make(chan string, 10000),
		signals: make(chan os.Signal, 1),
		done:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		h.code = run(ctx, cfg, inR, outW, h.signals)
		outW.Close()
		close(h.done)
	}()
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		select {
		case <-h.done:
		case <-time.After(waitLimit):
			t.Error("server did not exit after its context ended")
		}
	})
	return h
}

func testConfig(t *testing.T) config {
	return config{port: 0, dir: t.TempDir()}
}

// send types line on the server's console.
func (h *harness) send(line string) {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		h.t.Fatalf("write %q: %v", line, err)
	}
}

// expect reads output until a line satisfies match, and returns it.
func (h *harness) expect(what string, match func(string) bool) string {
	h.t.Helper()
	var seen []string
	deadline := time.After(waitLimit)
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				h.t.Fatalf("output ended before %s; saw %q", what, seen)
			}
			if match(line) {
				return line
			}
			seen = append(seen, line)
		case <-deadline:
			h.t.Fatalf("no %s within %s; saw %q", what, waitLimit, seen)
		}
	}
}

func (h *harness) expectLine(want string) {
	h.t.Helper()
	h.expect(strconv.Quote(want), func(l string) bool { return l == want })
}

// readyPort waits for the ready line and returns the port it names.
func (h *harness) readyPort() int {
	h.t.Helper()
	line := h.expect("ready line", func(l string) bool { return strings.HasPrefix(l, "Server ready on port ") })
	port, err := strconv.Atoi(strings.TrimPrefix(line, "Server ready on port "))
	if err != nil {
		h.t.Fatalf("ready line %q: %v", line, err)
	}
	return port
}

// exitCode waits for the server to exit and returns its code.
func (h *harness) exitCode() int {
	h.t.Helper()
	select {
	case <-h.done:
		return h.code
	case <-time.After(waitLimit):
		h.t.Fatalf("server still running after %s", waitLimit)
		return 0
	}
}

func TestConfigFromEnv(t *testing.T) {
	three := 3
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr bool
	}{
		{name: "defaults", want: config{port: defaultPort, dir: "."}},
		{name: "primary port wins", env: map[string]string{"PRIMARY_PORT": "27015", "SERVER_PORT": "1"}, want: config{port: 27015, dir: "."}},
		{name: "server port fallback", env: map[string]string{"SERVER_PORT": "7777"}, want: config{port: 7777, dir: "."}},
		{name: "exit code and delay", env: map[string]string{"GAMESERVER_EXIT_CODE": "3", "GAMESERVER_READY_DELAY": "2s"},
			want: config{port: defaultPort, dir: ".", exitCode: &three, readyDelay: 2 * time.Second}},
		{name: "bad port", env: map[string]string{"PRIMARY_PORT": "x"}, wantErr: true},
		{name: "port out of range", env: map[string]string{"PRIMARY_PORT": "70000"}, wantErr: true},
		{name: "bad exit code", env: map[string]string{"GAMESERVER_EXIT_CODE": "one"}, wantErr: true},
		{name: "bad delay", env: map[string]string{"GAMESERVER_READY_DELAY": "soon"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr {
				if err == nil {
					t.Fatalf("configFromEnv = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.port != tt.want.port || got.dir != tt.want.dir || got.readyDelay != tt.want.readyDelay {
				t.Errorf("configFromEnv = %+v, want %+v", got, tt.want)
			}
			if (got.exitCode == nil) != (tt.want.exitCode == nil) ||
				(got.exitCode != nil && *got.exitCode != *tt.want.exitCode) {
				t.Errorf("exitCode = %v, want %v", got.exitCode, tt.want.exitCode)
			}
		})
	}
}

func TestServerAnswersTCPAndUDPOnItsPort(t *testing.T) {
	h := start(t, testConfig(t))
	port := h.readyPort()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	for _, network := range []string{"tcp", "udp"} {
		conn, err := net.DialTimeout(network, addr, waitLimit)
		if err != nil {
			t.Fatalf("dial %s: %v", network, err)
		}
		_ = conn.SetDeadline(time.Now().Add(waitLimit))
		if network == "udp" {
			if _, err := conn.Write([]byte("ping")); err != nil {
				t.Fatalf("udp write: %v", err)
			}
		}
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		conn.Close()
		if err != nil {
			t.Fatalf("%s read: %v", network, err)
		}
		if got := string(buf[:n]); !strings.HasPrefix(got, "berth-gameserver ") || !strings.HasSuffix(got, "\n") {
			t.Errorf("%s banner = %q, want \"berth-gameserver <hostname>\\n\"", network, got)
		}
	}
}

func TestServerWritesReadyFileInItsDirectory(t *testing.T) {
	cfg := testConfig(t)
	h := start(t, cfg)
	port := h.readyPort()
	b, err := os.ReadFile(filepath.Join(cfg.dir, "ready.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(port) {
		t.Errorf("ready.txt = %q, want %d", got, port)
	}
}

func TestServerCommands(t *testing.T) {
	tests := []struct {
		input string
		want  []string
	}{
		{"say hello world", []string{"hello world"}},
		{"  say padded  ", []string{"padded"}},
		{"frobnicate now", []string{"Unknown command: frobnicate now"}},
		{"flood 3", []string{"flood line 1", "flood line 2", "flood line 3"}},
		{"alloc 2", []string{"allocated 2 MiB"}},
		{"alloc lots", []string{"Invalid size: lots"}},
		{"exit soon", []string{"Invalid exit code: soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			h := start(t, testConfig(t))
			h.readyPort()
			h.send(tt.input)
			for _, want := range tt.want {
				h.expectLine(want)
			}
			// The server is still up and obeying.
			h.send("say still here")
			h.expectLine("still here")
		})
	}
}

func TestServerExits(t *testing.T) {
	tests := []struct {
		name     string
		act      func(*harness)
		wantLine string
		wantCode int
	}{
		{"stop command", func(h *harness) { h.send("stop") }, "Stopping server", 0},
		{"exit command", func(h *harness) { h.send("exit 42") }, "", 42},
		{"SIGTERM", func(h *harness) { h.signals <- syscall.SIGTERM }, "Stopping server (signal)", 0},
		{"SIGINT", func(h *harness) { h.signals <- syscall.SIGINT }, "Stopping server (signal)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig(t))
			h.readyPort()
			tt.act(h)
			if tt.wantLine != "" {
				h.expectLine(tt.wantLine)
			}
			if code := h.exitCode(); code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
		})
	}
}

func TestClosedStdinKeepsServerRunning(t *testing.T) {
	h := start(t, testConfig(t))
	port := h.readyPort()
	h.stdin.Close()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), waitLimit)
	if err != nil {
		t.Fatalf("server stopped listening after stdin closed: %v", err)
	}
	conn.Close()
	h.signals <- syscall.SIGINT
	if code := h.exitCode(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestExitCodeEnvExitsRightAfterReady(t *testing.T) {
	cfg := testConfig(t)
	code := 3
	cfg.exitCode = &code
	h := start(t, cfg)
	h.readyPort()
	if got := h.exitCode(); got != 3 {
		t.Errorf("exit code = %d, want 3", got)
	}
}

func TestReadyDelayPostponesReadyLine(t *testing.T) {
	cfg := testConfig(t)
	cfg.readyDelay = 300 * time.Millisecond
	began := time.Now()
	h := start(t, cfg)
	h.readyPort()
	if elapsed := time.Since(began); elapsed < cfg.readyDelay {
		t.Errorf("ready after %s, want at least %s", elapsed, cfg.readyDelay)
	}
}

func TestSignalDuringReadyDelayStopsServer(t *testing.T) {
	cfg := testConfig(t)
	cfg.readyDelay = time.Hour
	h := start(t, cfg)
	h.signals <- syscall.SIGTERM
	h.expectLine("Stopping server (signal)")
	if code := h.exitCode(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestStopSignalIsRecordedAfterTheSave(t *testing.T) {
	cfg := testConfig(t)
	cfg.saveDelay = 50 * time.Millisecond
	h := start(t, cfg)
	h.readyPort()
	h.signals <- syscall.SIGTERM
	h.expectLine("Stopping server (signal)")
	h.expectLine("Saved after signal: terminated")
	if code := h.exitCode(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.dir, "signal.txt")); err != nil || string(b) != "terminated\n" {
		t.Errorf("signal.txt = %q, %v; want terminated", b, err)
	}
}

func TestSaveDelayComesFromTheEnvironment(t *testing.T) {
	cfg, err := configFromEnv(func(name string) string {
		if name == "GAMESERVER_SAVE_DELAY" {
			return "750ms"
		}
		return ""
	})
	if err != nil || cfg.saveDelay != 750*time.Millisecond {
		t.Errorf("saveDelay = %s, %v; want 750ms", cfg.saveDelay, err)
	}
	if _, err := configFromEnv(func(name string) string {
		if name == "GAMESERVER_SAVE_DELAY" {
			return "soon"
		}
		return ""
	}); err == nil {
		t.Error("GAMESERVER_SAVE_DELAY=soon accepted")
	}
}
