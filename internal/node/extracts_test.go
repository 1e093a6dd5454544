package node

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestExtractLimiterAllowsMaxAMinuteAndSaysWhenTheNextIs(t *testing.T) {
	clock := newTestClock()
	l := newExtractLimiter(3, clock.Now)
	for i := range 3 {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("extraction %d refused", i+1)
		}
		clock.advance(10 * time.Second)
	}
	ok, retry := l.take("a")
	if ok || retry != 30*time.Second {
		t.Errorf("fourth extraction in a minute: ok %v, retry %s; want a refusal for 30s", ok, retry)
	}
	if ok, _ := l.take("b"); !ok {
		t.Error("another instance's extraction was refused")
	}
	clock.advance(30 * time.Second)
	if ok, _ := l.take("a"); !ok {
		t.Error("an extraction a minute after the first was refused")
	}
}

func TestExtractsPastTheCapAre429WithRetryAfter(t *testing.T) {
	clock := newTestClock()
	d := newTunedTestDaemon(t, fake.New(), t.TempDir(), nil, func(c *Config) { c.Now = clock.Now })
	vol := fileInstance(t, d, "busy", 0)
	if err := os.WriteFile(filepath.Join(vol, "pack.tar.gz"), tarGzOf(t, map[string]string{"a": "A"}), 0o644); err != nil {
		t.Fatal(err)
	}
	extract := func() *httptest.ResponseRecorder {
		return call(t, d, http.MethodPost, "/v1/instances/busy/files/extract", nodeapi.ExtractRequest{Path: "pack.tar.gz", Destination: "out"})
	}
	for i := range DefaultMaxExtractsPerMinute {
		expectStatus(t, extract(), http.StatusOK, "extract "+string(rune('1'+i)))
		clock.advance(time.Second)
	}
	w := extract()
	msg := expectStatus(t, w, http.StatusTooManyRequests, "an extract past the cap")
	if !strings.Contains(msg, "at most 6 a minute") {
		t.Errorf("message %q does not state the cap", msg)
	}
	if got := w.Header().Get("Retry-After"); got != "54" {
		t.Errorf("Retry-After = %q, want 54", got)
	}
	clock.advance(54 * time.Second)
	expectStatus(t, extract(), http.StatusOK, "an extract once the first left the minute")
}
