package panel_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/berth-dev/berth/internal/panel"
)

// contract serves a panel's handler and checks every answer it gives
// against the OpenAPI document the panel serves, failing the test on any
// that does not match. The contract tests' panels are served this way
// (newPanelOn), so each answer they get is validated, in both modes.
type contract struct {
	t      testing.TB
	server *panel.Server
	next   http.Handler
	once   sync.Once
	spec   *openapi3.T
	err    string
}

// validated wraps server's handler h in a contract.
func validated(t testing.TB, server *panel.Server, h http.Handler) *contract {
	return &contract{t: t, server: server, next: h}
}

// openAPI is the document the panel serves; the test stops when it is
// not a valid OpenAPI document.
func (c *contract) openAPI() *openapi3.T {
	c.t.Helper()
	if c.load(); c.err != "" {
		c.t.Fatal(c.err)
	}
	return c.spec
}

// load loads and checks the document the panel serves, once.
func (c *contract) load() {
	c.once.Do(func() {
		rec := httptest.NewRecorder()
		c.next.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
		if rec.Code != http.StatusOK {
			c.err = "GET /api/openapi.json: " + rec.Result().Status + ": " + rec.Body.String()
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(rec.Body.Bytes())
		if err == nil {
			err = doc.Validate(loader.Context)
		}
		if err != nil {
			c.err = "the OpenAPI document is invalid: " + err.Error()
			return
		}
		c.spec = doc
	})
}

// ServeHTTP serves r and checks the answer. A WebSocket upgrade is served
// unchecked: the connection is handed over, not answered.
func (c *contract) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "" {
		c.next.ServeHTTP(w, r)
		return
	}
	tee := &teeWriter{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(tee, r)
	c.check(c.t, r, tee.status, w.Header(), tee.body.Bytes())
}

// teeWriter passes an answer on and keeps a copy.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// check fails t when the answer to req, which a route served, does not
// match what the document says of that route and status. Requests no
// route serves (the mux's 404s and 405s) are not checked.
func (c *contract) check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	pattern := c.server.PatternOf(req)
	if pattern == "" {
		return
	}
	// Errorf, not Fatal: a test server calls this on its own goroutine.
	if c.load(); c.err != "" {
		t.Errorf("%s %s: %s", req.Method, req.URL.Path, c.err)
		return
	}
	doc := c.spec
	method, path, _ := strings.Cut(pattern, " ")
	docPath, params := matchPath(path, req.URL.Path)
	item := doc.Paths.Value(docPath)
	var op *openapi3.Operation
	if item != nil {
		op = item.GetOperation(method)
	}
	if op == nil {
		t.Errorf("%s is served but not in the OpenAPI document", pattern)
		return
	}
	route := &routers.Route{Spec: doc, Path: docPath, PathItem: item, Method: method, Operation: op}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s %s: the answer %d %s does not match the OpenAPI document: %v", req.Method, req.URL.Path, status, trim(body), err)
	}
}

// matchPath reads the path parameters of a ServeMux path pattern from a
// request path it matched, and returns the pattern as the document writes
// it ({name...} as {name}).
func matchPath(pattern, path string) (string, map[string]string) {
	params := map[string]string{}
	segs := strings.Split(pattern, "/")
	got := strings.Split(path, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") || i >= len(got) {
			continue
		}
		name := seg[1 : len(seg)-1]
		value := got[i]
		if rest, ok := strings.CutSuffix(name, "..."); ok {
			name, value = rest, strings.Join(got[i:], "/")
		}
		params[name] = value
		segs[i] = "{" + name + "}"
	}
	return strings.Join(segs, "/"), params
}

// trim shortens a body for a failure message.
func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func TestOpenAPIDocumentsExactlyTheRoutes(t *testing.T) {
	for _, mode := range []panel.Mode{panel.ModeSeed, panel.ModeSkyport03} {
		t.Run(string(mode), func(t *testing.T) {
			p := newPanel(t, panel.Config{Mode: mode})
			doc := p.handler.openAPI()
			var documented []string
			for path, item := range doc.Paths.Map() {
				for method := range item.Operations() {
					documented = append(documented, method+" "+path)
				}
			}
			var served []string
			for _, pattern := range p.server.Patterns() {
				method, path, _ := strings.Cut(pattern, " ")
				docPath, _ := matchPath(path, path)
				served = append(served, method+" "+docPath)
			}
			if len(served) < 40 {
				t.Fatalf("only %d patterns registered: %v", len(served), served)
			}
			for _, route := range served {
				if !slices.Contains(documented, route) {
					t.Errorf("route %s is not in the OpenAPI document: add its entry to routeDocs", route)
				}
			}
			for _, route := range documented {
				if !slices.Contains(served, route) {
					t.Errorf("the OpenAPI document has %s, which no route serves", route)
				}
			}
		})
	}
}

func TestOpenAPIDocumentNeedsNoKeyAndGivesTheModesCodes(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		r := p.send("", "GET", "/api/openapi.json", nil)
		if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET /api/openapi.json without key: %d %s", r.code, r.header.Get("Content-Type"))
		}
		op := p.handler.openAPI().Paths.Value("/api/getUser").Post
		want, other := "201", "200"
		if p.mode == panel.ModeSkyport03 {
			want, other = other, want
		}
		if op.Responses.Value(want) == nil || op.Responses.Value(other) != nil {
			t.Errorf("getUser documents %v; want %s and not %s in mode %s", op.Responses.Map(), want, other, p.mode)
		}
		// The schemas come from the Go types: the key is never listed.
		keys := p.handler.openAPI().Components.Schemas["Key"]
		if keys == nil || keys.Value.Properties["key"] != nil || keys.Value.Properties["revokedAt"] == nil {
			t.Errorf("schema Key = %+v; want revokedAt and no key", keys)
		}
	})
}

// TestContractChecksCatchAnUndocumentedAnswer makes sure the validation
// of every answer can fail: a field, a status or a type the document does
// not have is an error.
func TestContractChecksCatchAnUndocumentedAnswer(t *testing.T) {
	p := newPanel(t, panel.Config{})
	doc := p.handler.openAPI()
	req := httptest.NewRequest("GET", "/api/users", nil)
	op := doc.Paths.Value("/api/users").Get
	route := &routers.Route{Spec: doc, Path: "/api/users", PathItem: doc.Paths.Value("/api/users"), Method: "GET", Operation: op}
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name   string
		status int
		body   string
	}{
		{"an extra field", 200, `[{"userId":"u","username":"a","email":"a@b","admin":false,"createdAt":"2024-01-01T00:00:00Z","passwordHash":"x"}]`},
		{"a missing field", 200, `[{"userId":"u","username":"a","email":"a@b","admin":false}]`},
		{"a wrong type", 200, `[{"userId":"u","username":"a","email":"a@b","admin":"no","createdAt":"2024-01-01T00:00:00Z"}]`},
		{"an undocumented status", 418, `{"error":"teapot"}`},
		{"an error of another shape", 500, `{"message":"x"}`},
	} {
		err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
			Status:                 c.status, Header: json, Body: io.NopCloser(strings.NewReader(c.body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		})
		if err == nil {
			t.Errorf("%s passed validation", c.name)
		}
	}
}
