// Package httplog is the request logging, panic recovery and JSON 404/405
// answers that Berth's two HTTP servers, the panel and the node daemon,
// share: an id for every request, one log line when it ends, a panic
// turned into a 500 that reveals nothing, and unmatched requests answered
// in JSON like every other error. It never logs a header or a query string, where
// credentials travel.
package httplog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

type ctxKey struct{}

// entry is what the middleware knows of one request; handlers add to it.
type entry struct {
	id    string
	mu    sync.Mutex
	attrs []slog.Attr
	// routine marks a poll whose success is logged at debug.
	routine bool
}

func entryOf(ctx context.Context) *entry {
	e, _ := ctx.Value(ctxKey{}).(*entry)
	return e
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if e := entryOf(ctx); e != nil {
		return e.id
	}
	return ""
}

// Add puts an attribute on the request's log line, such as the id of the
// key that authenticated it. Outside a logged request it does nothing.
func Add(ctx context.Context, a slog.Attr) {
	if e := entryOf(ctx); e != nil {
		e.mu.Lock()
		e.attrs = append(e.attrs, a)
		e.mu.Unlock()
	}
}

// Routine marks the request of ctx as a routine poll, such as the panel's
// health check of a node every few seconds: when it succeeds, its line is
// logged at debug, so that polls do not bury what happens.
func Routine(ctx context.Context) {
	if e := entryOf(ctx); e != nil {
		e.mu.Lock()
		e.routine = true
		e.mu.Unlock()
	}
}

// Value returns the value of an attribute added with Add, or "".
func Value(ctx context.Context, key string) string {
	e := entryOf(ctx)
	if e == nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.attrs {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// recorder remembers the status a handler answered, for the log line and
// for the panic handler, which must not write a second header.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, for WebSocket
// upgrades.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler wraps next: each request gets an id (also sent as X-Request-Id,
// so that a 500 can be found in the log) and one log line when it ends,
// with method, path, status, duration, id and any attributes handlers
// added. A panic is logged with its stack and answered by internalError;
// if the answer had already begun, the connection is cut instead, so that
// the client cannot take half a body for a whole one.
func Handler(log *slog.Logger, internalError func(w http.ResponseWriter, r *http.Request), next http.Handler) http.Handler {
	return Observed(log, internalError, nil, next)
}

// Observer hears of every request when it ends: the pattern of the route
// that served it ("" when none matched), the status answered, and how long
// it took. It is how the metrics count requests by route, a bounded set,
// never by path.
type Observer func(pattern string, status int, elapsed time.Duration)

// Observed is Handler that also tells observe, when not nil, of each
// request. The pattern is read from the request the ServeMux inside next
// filled in, so next must pass that request on unchanged (Unmatched does).
func Observed(log *slog.Logger, internalError func(w http.ResponseWriter, r *http.Request), observe Observer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:])
		e := &entry{id: hex.EncodeToString(b[:])}
		w.Header().Set("X-Request-Id", e.id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, e))
		rec := &recorder{ResponseWriter: w}
		defer func() {
			e.mu.Lock()
			attrs := append([]slog.Attr{
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
				slog.Duration("duration", time.Since(start)), slog.String("request_id", e.id),
			}, e.attrs...)
			level := slog.LevelInfo
			if e.routine && rec.status < 400 {
				level = slog.LevelDebug
			}
			e.mu.Unlock()
			if r.Context().Err() != nil {
				// The caller hung up before the answer was done: the
				// status is what nobody received, not a failure.
				attrs = append(attrs, slog.Bool("caller_gone", true))
			}
			log.LogAttrs(r.Context(), level, "request", attrs...)
			if observe != nil {
				status := rec.status
				if status == 0 {
					// Nothing written: net/http answers 200 itself.
					status = http.StatusOK
				}
				observe(r.Pattern, status, time.Since(start))
			}
		}()
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "handler panic", "request_id", e.id, "method", r.Method,
				"path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.status != 0 {
				panic(http.ErrAbortHandler)
			}
			rec.status = http.StatusInternalServerError
			internalError(w, r)
		}()
		next.ServeHTTP(rec, r)
	})
}
