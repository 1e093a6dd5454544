package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// apiError is an answer the node chose on purpose, with a message that is
// safe to show the panel.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

var (
	errInstanceNotFound = &apiError{http.StatusNotFound, "instance not found"}
	errSuspended        = &apiError{http.StatusConflict, "instance is suspended"}
	errRuntimeDown      = &apiError{http.StatusServiceUnavailable, "container runtime is unavailable"}
	errRestoring        = &apiError{http.StatusConflict, "a restore of this instance is running"}
)

// classify is the one place that maps an error to an HTTP status and the
// message the panel sees. Anything it does not recognise is a 500 whose
// details stay in the node's log.
func classify(err error) (status int, msg string) {
	var ae *apiError
	var fe *nodeapi.FieldError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.msg
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.Error()
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "request body exceeds 1 MiB"
	case errors.Is(err, runtime.ErrImage):
		// The runtime's message carries the registry's words ("manifest
		// unknown", "pull access denied"), which is what the panel shows.
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, runtime.ErrNotFound):
		return http.StatusNotFound, errInstanceNotFound.msg
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "request timed out or was canceled"
	default:
		return http.StatusInternalServerError, "internal error"
	}
}

// writeError answers err as a nodeapi.ErrorBody, with the fault kind its
// status stands for, logging what a 5xx hides.
func (d *Daemon) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	if status >= 500 {
		d.log.ErrorContext(r.Context(), "request failed", "request_id", httplog.RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, nodeapi.ErrorBody{Error: msg, Kind: fault.KindOfStatus(status).String()})
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
