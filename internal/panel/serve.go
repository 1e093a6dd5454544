package panel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Default server timeouts, for the Config fields left at zero. There is no
// write timeout: a download or an archive may stream for as long as it
// makes progress, and the node calls bound themselves.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultBodyTimeout       = time.Minute
	defaultUploadIdleTimeout = time.Minute
	idleTimeout              = 2 * time.Minute
	shutdownTimeout          = 30 * time.Second
)

// Serve serves the API on ln until ctx is done, then shuts down
// gracefully: open consoles are closed, and in-flight requests get up to
// 30 seconds to finish. It closes ln. A Server serves once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		// No ReadTimeout: past the body, net/http watches the connection
		// for the client hanging up, and a read deadline left on it would
		// cancel every answer that takes longer, a power action or an
		// archive. Each route sets the deadline of its body instead
		// (timeBody).
		IdleTimeout: idleTimeout,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	defer s.shutdown()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		s.log.Info("shutting down")
		// Consoles are hijacked connections, which Shutdown neither waits
		// for nor closes.
		s.shutdown()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		<-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("panel: %w", err)
	}
	return nil
}

// timeBody bounds the time next's request body may take to arrive, so
// that a client sending it slowly cannot hold a connection, a goroutine
// and their buffers for ever. An ordinary body must arrive whole within
// cfg.BodyTimeout; an upload (upload set) lives as long as it makes
// progress, cut off only after cfg.UploadIdleTimeout without a byte.
func (s *Server) timeBody(upload bool, next http.Handler) http.Handler {
	timeout := s.cfg.BodyTimeout
	if upload {
		timeout = s.cfg.UploadIdleTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			// Nothing to wait for, and a deadline would cancel the
			// request's context (see Serve).
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// A ResponseWriter that cannot set deadlines (a test's recorder)
		// has no connection to protect.
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			b := &timedBody{ReadCloser: r.Body, rc: rc}
			if upload {
				b.idle = timeout
			}
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

// timedBody is a request body read under a deadline on its connection:
// fixed, or, with idle set, moved forward before each read. At the body's
// end the deadline is lifted, for the reason Serve gives.
type timedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.idle > 0 && !b.done {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
