package httplog

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTimeBodyCutsASlowBodyButNotALongAnswer: a body that stalls is cut
// off, while a request whose body came in time keeps its context for as
// long as its answer takes, past the body's deadline (which a server-wide
// ReadTimeout would have cancelled).
func TestTimeBodyCutsASlowBodyButNotALongAnswer(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv := httptest.NewServer(TimeBody(timeout, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body cut off", http.StatusRequestTimeout)
			return
		}
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		case <-time.After(3 * timeout):
			fmt.Fprint(w, "done")
		}
	})))
	defer srv.Close()

	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("quick"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "done" {
		t.Fatalf("long answer: %d %q, want 200 done", resp.StatusCode, body)
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow body: no answer: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow body: %d, want the body cut off", resp.StatusCode)
	}
}
