package httplog

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestUnmatchedAnswersTheMuxsStatusInJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.PathValue("id"))) })
	guarded := 0
	h := Unmatched(mux, func(r *http.Request, answer http.Handler) http.Handler {
		guarded++
		return answer
	})
	for _, tc := range []struct {
		method, path string
		status       int
		msg, allow   string
	}{
		{"GET", "/nothing", 404, "no such endpoint: GET /nothing", ""},
		{"POST", "/things/1", 405, "method not allowed", "GET, HEAD"},
	} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(tc.method, tc.path, nil))
		var body map[string]string
		if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil || rr.Code != tc.status || body["error"] != tc.msg ||
			len(body) != 1 || rr.Header().Get("Allow") != tc.allow || rr.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q Allow %q, want %d {\"error\": %q} Allow %q",
				tc.method, tc.path, rr.Code, rr.Body, rr.Header().Get("Allow"), tc.status, tc.msg, tc.allow)
		}
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/things/7", nil))
	if rr.Code != 200 || rr.Body.String() != "7" || guarded != 2 {
		t.Errorf("matched request: %d %q (guard ran %d times, want 2: unmatched only)", rr.Code, rr.Body, guarded)
	}
}
