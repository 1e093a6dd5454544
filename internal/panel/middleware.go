package panel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxKeyID
)

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxRequestID).(string)
	return id
}

// keyID is the id of the API key that authenticated r, or "".
func keyID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKeyID).(*string)
	if id == nil {
		return ""
	}
	return *id
}

// statusWriter remembers the status written, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (for the
// console's WebSocket upgrade).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives each request an id and writes one log line when it
// ends: method, path, status, duration, request id and API key id. The
// query string is left out, and so is every header: the key never appears.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var idBytes [8]byte
		rand.Read(idBytes[:])
		id := hex.EncodeToString(idBytes[:])
		w.Header().Set("X-Request-Id", id)
		var key string
		ctx := context.WithValue(context.WithValue(r.Context(), ctxRequestID, id), ctxKeyID, &key)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", id), slog.String("key_id", key))
	})
}

// recoverPanics turns a panic into a logged 500 that reveals nothing.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				writeErrorMessage(w, http.StatusInternalServerError, "internal error (request "+requestID(r)+")")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBodies caps every request body at maxBody, or at the larger cap
// its route was registered with (uploads).
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBody)
		if len(s.bodyLimits) > 0 {
			if _, pattern := s.mux.Handler(r); s.bodyLimits[pattern] > 0 {
				limit = s.bodyLimits[pattern]
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// requireKey authenticates a request by its x-api-key header.
func (s *Server) requireKey(next http.Handler) http.Handler {
	return s.requireAuth(next, s.apiKeyAuth)
}

// authenticate returns the id of the API key key, from the cache or the
// database. Both are indexed by the key's SHA-256, never the key.
func (s *Server) authenticate(r *http.Request, key string) (string, error) {
	hash := secret.Hash(key)
	now := time.Now()
	if id, ok := s.keys.get(hash, now); ok {
		return id, nil
	}
	k, err := s.store.APIKeyByHash(r.Context(), hash)
	if err != nil {
		return "", err
	}
	s.keys.put(hash, k.ID, now)
	return k.ID, nil
}

// clientIP is the address the request came from, without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit records a mutating call. A failure to write the audit entry is
// logged, not answered: the change itself has already been made.
func (s *Server) audit(r *http.Request, action, target string) {
	err := s.store.RecordAudit(r.Context(), store.AuditEntry{
		KeyID: keyID(r), Action: action, Target: target, IP: clientIP(r), At: time.Now(),
	})
	if err != nil {
		s.logError(r, "audit", err)
	}
}
