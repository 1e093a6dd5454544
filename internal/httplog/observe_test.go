package httplog

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestObservedReportsTheRoutePatternNotThePath: the observer hears the
// pattern that served each request (so that metrics stay bounded whatever
// ids clients send), "" for a request no route matched, and the status
// answered, 500 for a panic and 200 for a handler that wrote nothing.
func TestObservedReportsTheRoutePatternNotThePath(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("GET /quiet", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	type seen struct {
		pattern string
		status  int
	}
	var got []seen
	h := Observed(slog.New(slog.DiscardHandler), func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}, func(pattern string, status int, elapsed time.Duration) {
		if elapsed < 0 {
			t.Errorf("elapsed %v for %s", elapsed, pattern)
		}
		got = append(got, seen{pattern, status})
	}, Unmatched(mux, nil))
	for _, c := range []struct {
		path string
		want seen
	}{
		{"/things/42", seen{"GET /things/{id}", http.StatusAccepted}},
		{"/things/43", seen{"GET /things/{id}", http.StatusAccepted}},
		{"/quiet", seen{"GET /quiet", http.StatusOK}},
		{"/boom", seen{"GET /boom", http.StatusInternalServerError}},
		{"/nowhere", seen{"", http.StatusNotFound}},
	} {
		got = nil
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", c.path, nil))
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("GET %s observed %+v, want one %+v", c.path, got, c.want)
		}
	}
}
