package panel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/httplog"
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

// timeBody bounds the time next's request body may take to arrive
// (httplog.TimeBody): within cfg.BodyTimeout for an ordinary body, and for
// an upload (upload set) as long as it makes progress, cut off only after
// cfg.UploadIdleTimeout without a byte.
func (s *Server) timeBody(upload bool, next http.Handler) http.Handler {
	if upload {
		return httplog.TimeBody(s.cfg.UploadIdleTimeout, true, next)
	}
	return httplog.TimeBody(s.cfg.BodyTimeout, false, next)
}
