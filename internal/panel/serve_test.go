package panel_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
)

// serve runs p's server on a loopback listener until the test ends (or
// stop is called) and returns its address.
func (p *testPanel) serve(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.server.Serve(ctx, ln) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// failBound is how long a test waits for what must happen before it gives
// up: a bound on a failure, never a measure of a success.
const failBound = 30 * time.Second

func TestPanelCutsOffABodySentTooSlowly(t *testing.T) {
	p := newPanel(t, panel.Config{BodyTimeout: 200 * time.Millisecond})
	addr, _ := p.serve(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// No key is needed here: anyone can open such a connection.
	fmt.Fprint(conn, "POST /nodes/configure HTTP/1.1\r\nHost: panel\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{\"configureKey\":")
	conn.SetReadDeadline(time.Now().Add(failBound))
	_, err = io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the panel still holds a connection whose body stalled")
	}
}

func TestPanelLetsAnUploadThatKeepsMakingProgressOutlastTheBodyTimeout(t *testing.T) {
	const bodyTimeout = 200 * time.Millisecond
	p := newPanel(t, panel.Config{BodyTimeout: bodyTimeout, UploadIdleTimeout: failBound})
	nodeID, n := startNode(t, p)
	id := p.deploy(deployBody(p.createUser("owner"), nodeID, "25565", "25565"))
	applyOnNode(t, p, n, id)
	addr, _ := p.serve(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	part := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
	const chunks, chunk = 6, 10
	end := "\r\n--b--\r\n"
	fmt.Fprintf(conn, "POST /api/instances/files/%s/upload HTTP/1.1\r\nHost: panel\r\nx-api-key: %s\r\n"+
		"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s",
		id, p.key, len(part)+chunks*chunk+len(end), part)
	// The upload takes three times the body timeout, never pausing long.
	for range chunks {
		time.Sleep(bodyTimeout / 2)
		if _, err := conn.Write([]byte(strings.Repeat("x", chunk))); err != nil {
			t.Fatalf("the panel cut off an upload making progress: %v", err)
		}
	}
	fmt.Fprint(conn, end)
	conn.SetReadDeadline(time.Now().Add(failBound))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the panel cut off an upload making progress: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s, want 201", resp.StatusCode, body)
	}
	if got, err := os.ReadFile(filepath.Join(dataDir(n, id), "a.txt")); err != nil || string(got) != strings.Repeat("x", chunks*chunk) {
		t.Errorf("the node holds a.txt as %q (%v), want the whole upload", got, err)
	}
}
