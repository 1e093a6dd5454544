package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pageSize is the stride at which alloc touches memory so that every page
// is really backed, and counted against the container's limit.
const pageSize = 4096

// server is one running fake game server.
type server struct {
	outMu sync.Mutex
	out   io.Writer
	// banner is what each TCP connection and UDP datagram gets back.
	banner []byte
	// ballast keeps alloc'd memory reachable so it is never given back.
	ballast [][]byte
}

// printf writes one line of console output; listeners and commands share it.
func (s *server) printf(format string, args ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.out, format+"\n", args...)
}

// run is the whole server: it listens, announces readiness, then obeys
// stdin until told to stop, a signal arrives or ctx ends. It returns the
// process exit code. The caller owns stdin; closing it ends the reader.
func run(ctx context.Context, cfg config, stdin io.Reader, stdout io.Writer, signals <-chan os.Signal) int {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	s := &server{out: stdout, banner: []byte("berth-gameserver " + hostname + "\n")}

	ln, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.port)))
	if err != nil {
		s.printf("listen tcp: %v", err)
		return 1
	}
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
	if err != nil {
		ln.Close()
		s.printf("listen udp: %v", err)
		return 1
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.serveTCP(ln) })
	wg.Go(func() { s.serveUDP(pc) })
	defer wg.Wait()
	defer pc.Close()
	defer ln.Close()

	if cfg.readyDelay > 0 {
		timer := time.NewTimer(cfg.readyDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-signals:
			s.printf("Stopping server (signal)")
			return 0
		case <-ctx.Done():
			return 0
		}
	}
	// Tests read this file to prove the data folder is mounted at the
	// working directory; a read-only folder is not an error for the game.
	// It is written first so that it exists once the ready line is out.
	_ = os.WriteFile(filepath.Join(cfg.dir, "ready.txt"), []byte(strconv.Itoa(port)+"\n"), 0o644)
	s.printf("Server ready on port %d", port)
	if cfg.exitCode != nil {
		return *cfg.exitCode
	}

	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go readLines(stdin, lines, done)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				// Without an attached stdin a game keeps running.
				lines = nil
				continue
			}
			if code, exit := s.command(line); exit {
				return code
			}
		case sig := <-signals:
			s.printf("Stopping server (signal)")
			return s.save(ctx, cfg, sig)
		case <-ctx.Done():
			return 0
		}
	}
}

// save is the end of a stop by signal: it takes cfg.saveDelay, as a game
// saving its world does, then records the signal in signal.txt and says so.
// A server killed before the end leaves no record.
func (s *server) save(ctx context.Context, cfg config, sig os.Signal) int {
	if cfg.saveDelay > 0 {
		timer := time.NewTimer(cfg.saveDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return 0
		}
	}
	// A read-only data folder is no reason for the game to fail its stop.
	if err := os.WriteFile(filepath.Join(cfg.dir, "signal.txt"), []byte(sig.String()+"\n"), 0o644); err != nil {
		s.printf("record signal: %v", err)
	}
	s.printf("Saved after signal: %v", sig)
	return 0
}

// readLines sends each line of r to lines and closes it at the end of r.
// It gives up on a line once done is closed; it is the owner of r who ends
// a read in progress by closing r.
func readLines(r io.Reader, lines chan<- string, done <-chan struct{}) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		select {
		case lines <- sc.Text():
		case <-done:
			return
		}
	}
}

// command carries out one console line and says whether the server should
// exit, and with which code.
func (s *server) command(line string) (code int, exit bool) {
	line = strings.TrimSpace(line)
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "":
		return 0, false
	case "stop":
		s.printf("Stopping server")
		return 0, true
	case "exit":
		n, err := strconv.Atoi(arg)
		if err != nil {
			s.printf("Invalid exit code: %s", arg)
			return 0, false
		}
		return n, true
	case "alloc":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			s.printf("Invalid size: %s", arg)
			return 0, false
		}
		s.alloc(n)
		s.printf("allocated %d MiB", n)
	case "say":
		s.printf("%s", arg)
	case "flood":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			s.printf("Invalid count: %s", arg)
			return 0, false
		}
		for i := 1; i <= n; i++ {
			s.printf("flood line %d", i)
		}
	default:
		s.printf("Unknown command: %s", line)
	}
	return 0, false
}

// alloc takes n MiB and writes to every page of it, so the memory is really
// in use and a container limit below it triggers the OOM killer.
func (s *server) alloc(n int) {
	b := make([]byte, n<<20)
	for i := 0; i < len(b); i += pageSize {
		b[i] = 1
	}
	s.ballast = append(s.ballast, b)
}

// serveTCP greets each connection with the banner and hangs up, until ln
// is closed.
func (s *server) serveTCP(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = conn.Write(s.banner)
		conn.Close()
	}
}

// serveUDP answers each datagram with the banner, until pc is closed.
func (s *server) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		_, addr, err := pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		_, _ = pc.WriteTo(s.banner, addr)
	}
}
