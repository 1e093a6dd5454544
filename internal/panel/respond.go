package panel

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// writeJSON answers with status and v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errorBody is every error answer: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

func writeErrorMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// statusOf is the HTTP status of an error: its Kind's (fault's one table),
// but 401 for a missing or refused sign-in. A node's error arrives with its
// kind (nodeapi.Error), so it too is answered from here.
func statusOf(err error) int {
	k := fault.KindOf(err)
	if k == fault.Permission && errors.Is(err, errSignIn) {
		return http.StatusUnauthorized
	}
	return k.Status()
}

// handler is an API handler that returns its failure instead of answering
// it, so that every error is answered in one place: handle.
type handler func(w http.ResponseWriter, r *http.Request) error

// handle adapts h, answering the error it returns with writeError.
func (s *Server) handle(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// seedLookup marks the failed lookup of a seed endpoint (getUser,
// getInstance, getUserInstance, instance/delete, suspend, unsuspend,
// nodes/delete), whose miss gets the status the compatibility table
// decides.
type seedLookup struct{ error }

func (e seedLookup) Unwrap() error { return e.error }

// writeError answers with err's status and message. An unexpected error is
// logged with the request id and answered with a bare 500: its details are
// internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if errors.As(err, new(seedLookup)) && fault.Is(err, fault.NotExist) {
		status = s.cfg.Mode.status(seedNotFound)
	}
	msg := fault.Message(err)
	if status >= 500 && fault.KindOf(err) == fault.Other {
		s.logError(r, "request failed", err)
		msg = "internal error (request " + requestID(r) + ")"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if wait := fault.RetryAfterOf(err); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	writeErrorMessage(w, status, msg)
}

// logError logs an unexpected failure. A failure that is only the caller
// hanging up, which cut short what the request was doing, is no error of
// the panel's: it is logged at debug.
func (s *Server) logError(r *http.Request, msg string, err error) {
	level := slog.LevelError
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	s.log.LogAttrs(r.Context(), level, msg, slog.String("request_id", requestID(r)),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
}
