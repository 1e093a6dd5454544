package panel

import (
	"encoding/json"
	"log/slog"
	"net/http"

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

// statusOf maps an error's Kind to its HTTP status: the one place that
// does. A node's error arrives with its kind (nodeapi.Error), so it too is
// answered from here.
func statusOf(err error) int {
	switch fault.KindOf(err) {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.NotExist:
		return http.StatusNotFound
	case fault.Exist, fault.Conflict:
		return http.StatusConflict
	case fault.Permission:
		return http.StatusForbidden
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.TooMany:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status and message. An unexpected error is
// logged with the request id and answered with a bare 500: its details are
// internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorStatus(w, r, statusOf(err), err)
}

// writeErrorStatus is writeError with the status chosen by the caller, for
// the few codes the compatibility table decides.
func (s *Server) writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := fault.Message(err)
	if status >= 500 && fault.KindOf(err) == fault.Other {
		s.log.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error (request " + requestID(r) + ")"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeErrorMessage(w, status, msg)
}

// logError logs a failure that does not change the answer.
func (s *Server) logError(r *http.Request, msg string, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, msg, slog.String("request_id", requestID(r)), slog.Any("err", err))
}
