package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that a panel's log may write while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSecondPanelOnOneSQLiteFileIsRefused: while a panel runs on a data
// folder's SQLite database, a second `berth panel` on it exits at once
// with an error that says why; the first keeps running.
func TestSecondPanelOnOneSQLiteFileIsRefused(t *testing.T) {
	data := t.TempDir()
	args := []string{"-data", data, "-listen", "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	var logs lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runPanel(ctx, args, io.Discard, slog.New(slog.NewTextHandler(&logs, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the first panel: %v", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "panel listening") {
		select {
		case err := <-done:
			t.Fatalf("the first panel stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first panel did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var stderr bytes.Buffer
	code := Main(append([]string{"panel"}, args...), io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "another panel is running on the SQLite database") {
		t.Fatalf("second panel: exit %d, stderr %q", code, stderr.String())
	}
	select {
	case err := <-done:
		t.Fatalf("the first panel stopped: %v", err)
	default:
	}
}
