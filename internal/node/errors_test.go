package node

import (
	"net/http"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

func TestErrorAnswersNameTheirFaultKind(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		kind         string
	}{
		{http.MethodGet, "/v1/instances/nobody", nil, http.StatusNotFound, "not_exist"},
		{http.MethodPut, "/v1/instances/x", map[string]any{"id": "x"}, http.StatusBadRequest, "invalid"},
	} {
		w := call(t, d, tc.method, tc.path, tc.body)
		body := decode[nodeapi.ErrorBody](t, w)
		if w.Code != tc.status || body.Kind != tc.kind {
			t.Errorf("%s %s: %d kind %q, want %d kind %q (%s)", tc.method, tc.path, w.Code, body.Kind, tc.status, tc.kind, body.Error)
		}
	}
}
