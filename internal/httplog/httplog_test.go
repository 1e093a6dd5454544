package httplog

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerLogsOneLineWithAddedAttributesAndNoQuery(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := Handler(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Add(r.Context(), slog.String("key_id", "k1"))
		if Value(r.Context(), "key_id") != "k1" || RequestID(r.Context()) == "" {
			t.Error("the handler cannot read back its attribute or the request id")
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/x?token=secret", nil))
	line := buf.String()
	if strings.Count(line, "msg=request") != 1 {
		t.Fatalf("log = %q, want one request line", line)
	}
	for _, want := range []string{"method=GET", "path=/x", "status=418", "key_id=k1", "request_id=" + rr.Header().Get("X-Request-Id")} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "secret") {
		t.Errorf("log line %q holds the query string", line)
	}
}

func TestHandlerAnswersAPanicWithoutItsDetails(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := Handler(log, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"internal error"}`))
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("database password is hunter2") }))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if rr.Code != 500 || strings.Contains(rr.Body.String(), "hunter2") {
		t.Errorf("panic answered %d %q, want a 500 without the panic's words", rr.Code, rr.Body)
	}
	if !strings.Contains(buf.String(), "handler panic") || !strings.Contains(buf.String(), "status=500") {
		t.Errorf("log = %q, want the panic and a status=500 request line", buf.String())
	}
}

func TestHandlerCutsTheConnectionWhenAPanicFollowsTheAnswer(t *testing.T) {
	h := Handler(slog.New(slog.DiscardHandler), nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic("late")
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestHandlerMarksARequestWhoseCallerHungUp(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := Handler(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/y", nil))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "caller_gone=true") || strings.Contains(lines[1], "caller_gone") {
		t.Errorf("log = %q, want the first request alone marked caller_gone", lines)
	}
	if strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("log = %q, want no error", buf.String())
	}
}

func TestRoutinePollsLogAtDebugUnlessTheyFail(t *testing.T) {
	for _, tc := range []struct {
		status int
		level  string
	}{
		{http.StatusOK, "level=DEBUG"},
		{http.StatusServiceUnavailable, "level=INFO"},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		h := Handler(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			Routine(r.Context())
			w.WriteHeader(tc.status)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/health", nil))
		if line := buf.String(); !strings.Contains(line, tc.level) {
			t.Errorf("status %d: log = %q, want %s", tc.status, line, tc.level)
		}
	}
}
