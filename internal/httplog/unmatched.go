package httplog

import (
	"encoding/json"
	"net/http"
)

// Unmatched serves the requests one of mux's patterns matches through mux,
// and answers the others in JSON, as both servers answer every error: 404
// {"error": "no such endpoint: GET /x"}, or 405 {"error": "method not
// allowed"} with the mux's Allow header. guard, when not nil, wraps that
// answer: the panel asks for an API key first, so that a caller without
// one cannot map the API by probing.
func Unmatched(mux *http.ServeMux, guard func(r *http.Request, answer http.Handler) http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			// Served through the mux, not h: only ServeHTTP fills in the
			// path values ({id}) that handlers read with r.PathValue.
			mux.ServeHTTP(w, r)
			return
		}
		var answer http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The mux answers unmatched requests itself: keep its status
			// and Allow header, and answer in JSON instead.
			probe := &statusProbe{header: http.Header{}}
			h.ServeHTTP(probe, r)
			if allow := probe.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			msg := "no such endpoint: " + r.Method + " " + r.URL.Path
			status := http.StatusNotFound
			if probe.status == http.StatusMethodNotAllowed {
				status, msg = http.StatusMethodNotAllowed, "method not allowed"
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		})
		if guard != nil {
			answer = guard(r, answer)
		}
		answer.ServeHTTP(w, r)
	})
}

// statusProbe is a ResponseWriter that keeps only the status and header.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }
