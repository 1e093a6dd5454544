package panel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// modeCodes is the contract's table of the codes that differ by mode: the
// same tests run in both modes and read their expectations from here.
var modeCodes = map[panel.Mode]struct {
	userFound       int // getUser found
	notFound        int // a lookup miss on a seed endpoint
	instanceDeleted int // instance/delete success
	nodeDeleted     int // nodes/delete success
}{
	panel.ModeSeed:      {userFound: 201, notFound: 400, instanceDeleted: 201, nodeDeleted: 201},
	panel.ModeSkyport03: {userFound: 200, notFound: 404, instanceDeleted: 200, nodeDeleted: 201},
}

// backend is a kind of database the contract runs on.
type backend struct {
	name  string
	fresh func(t testing.TB) storetest.Database
}

// backends are SQLite always, and PostgreSQL when BERTH_TEST_POSTGRES
// names a server.
func backends() []backend {
	list := []backend{{"sqlite", storetest.NewSQLite}}
	if base := storetest.PostgresURL(); base != "" {
		list = append(list, backend{"postgres", func(t testing.TB) storetest.Database { return storetest.NewPostgres(t, base) }})
	}
	return list
}

// forEachMode runs fn as a subtest in each compatibility mode on each
// backend, each on its own fresh panel. Subtests on SQLite are named after
// the mode alone.
func forEachMode(t *testing.T, fn func(t *testing.T, p *testPanel)) {
	t.Helper()
	for _, b := range backends() {
		for _, mode := range []panel.Mode{panel.ModeSeed, panel.ModeSkyport03} {
			name := string(mode)
			if b.name != "sqlite" {
				name += "-" + b.name
			}
			t.Run(name, func(t *testing.T) { fn(t, newPanelOn(t, b.fresh(t)(t), panel.Config{Mode: mode})) })
		}
	}
}

// forEachBackend runs fn as a subtest on a fresh seed-mode panel on each
// backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, p *testPanel)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, newPanelOn(t, b.fresh(t)(t), panel.Config{})) })
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testPanel is a panel on a real SQLite database in the test's own folder,
// with one API key. Its every answer is checked against its OpenAPI
// document.
type testPanel struct {
	t       testing.TB
	st      *store.Store
	server  *panel.Server
	handler *contract
	mode    panel.Mode
	key     string
	keyID   string
	logs    *syncBuffer
}

// newPanel opens a store in a fresh t.TempDir() and serves cfg over it;
// cfg.Store and cfg.Log are filled in.
func newPanel(t testing.TB, cfg panel.Config) *testPanel {
	t.Helper()
	st := openStore(t, t.TempDir())
	return newPanelOn(t, st, cfg)
}

// openStore opens the SQLite store in dir, closed when the test ends.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newPanelOn serves cfg over st, with a new API key stored by its hash.
func newPanelOn(t testing.TB, st *store.Store, cfg panel.Config) *testPanel {
	t.Helper()
	p := &testPanel{t: t, st: st, logs: &syncBuffer{}}
	p.key = secret.NewToken("berth_")
	p.keyID = store.NewID(8)
	if err := st.CreateAPIKey(context.Background(), store.APIKey{ID: p.keyID, Name: "test", KeyHash: secret.Hash(p.key),
		CreatedAt: time.Now()}); err != nil {
		t.Fatalf("create api key: %v", err)
	}
	cfg.Store = st
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Mode == "" {
		cfg.Mode = panel.ModeSeed
	}
	p.mode = cfg.Mode
	p.server = panel.New(cfg)
	p.handler = validated(t, p.server, p.server.Handler())
	return p
}

// response is a recorded answer.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// object decodes the body as a JSON object.
func (r response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil || m == nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// array decodes the body as a JSON array of objects.
func (r response) array(t testing.TB) []map[string]any {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal(r.body, &list); err != nil || list == nil {
		t.Fatalf("body is not a JSON array: %v: %s", err, r.body)
	}
	return list
}

// errorMessage checks the body is exactly {"error": "..."} and returns it.
func (r response) errorMessage(t testing.TB) string {
	t.Helper()
	m := r.object(t)
	msg, ok := m["error"].(string)
	if !ok || len(m) != 1 || msg == "" {
		t.Fatalf("body is not {\"error\": \"...\"}: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return msg
}

// encodeBody turns a test's body into bytes and a content type: a string
// is sent as written (JSON), url.Values form-encoded, anything else as JSON.
func encodeBody(t testing.TB, body any) (io.Reader, string) {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil, ""
	case string:
		return strings.NewReader(b), "application/json"
	case []byte:
		return bytes.NewReader(b), "application/json"
	case url.Values:
		return strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("encode body: %v", err)
	}
	return bytes.NewReader(raw), "application/json"
}

// send makes a request with the given API key ("" sends none).
func (p *testPanel) send(key, method, path string, body any) response {
	p.t.Helper()
	rd, ct := encodeBody(p.t, body)
	req := httptest.NewRequest(method, path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// call makes an authenticated request.
func (p *testPanel) call(method, path string, body any) response {
	p.t.Helper()
	return p.send(p.key, method, path, body)
}

// expect makes an authenticated request and fails unless it gets code.
func (p *testPanel) expect(code int, method, path string, body any) response {
	p.t.Helper()
	r := p.call(method, path, body)
	if r.code != code {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.code, code, r.body)
	}
	return r
}

// expectError expects code with an error naming every one of words.
func (p *testPanel) expectError(code int, method, path string, body any, words ...string) string {
	p.t.Helper()
	r := p.call(method, path, body)
	if r.code != code {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.code, code, r.body)
	}
	msg := r.errorMessage(p.t)
	for _, w := range words {
		if !strings.Contains(msg, w) {
			p.t.Errorf("%s %s: error %q does not mention %q", method, path, msg, w)
		}
	}
	return msg
}

// createUser creates a user through the API and returns its userId.
func (p *testPanel) createUser(username string) string {
	p.t.Helper()
	r := p.expect(201, "POST", "/api/auth/create-user", map[string]any{
		"username": username, "email": username + "@example.com", "password": "correct horse"})
	id, _ := r.object(p.t)["userId"].(string)
	if id == "" {
		p.t.Fatalf("create-user answered no userId: %s", r.body)
	}
	return id
}

// createNode creates a node with ram and disk in MiB and returns its id
// and configure key.
func (p *testPanel) createNode(name string, ram, disk int) (id, configureKey string) {
	p.t.Helper()
	r := p.expect(201, "POST", "/api/nodes/create", map[string]any{
		"name": name, "ram": ram, "disk": disk, "address": "10.0.0.1", "port": 8443, "tags": "eu", "processor": "x86"})
	m := r.object(p.t)
	id, _ = m["id"].(string)
	configureKey, _ = m["configureKey"].(string)
	if id == "" || configureKey == "" {
		p.t.Fatalf("nodes/create answered no id or configureKey: %s", r.body)
	}
	return id, configureKey
}

// deployBody is a valid deploy of a plain Docker image; callers change or
// delete fields to test the rules.
func deployBody(user, node, ports, primary string) map[string]any {
	return map[string]any{
		"image": "ghcr.io/berth-dev/game:1", "memory": 512, "cpu": 1, "disk": 1024, "ports": ports,
		"nodeId": node, "name": "survival", "user": user, "primary": primary,
	}
}

// deploy deploys body and returns the new instance's id.
func (p *testPanel) deploy(body map[string]any) string {
	p.t.Helper()
	r := p.expect(201, "POST", "/api/instances/deploy", body)
	inst, _ := r.object(p.t)["instance"].(map[string]any)
	id, _ := inst["Id"].(string)
	if id == "" {
		p.t.Fatalf("deploy answered no instance Id: %s", r.body)
	}
	return id
}

// state is what a rejected request must leave unchanged.
type state struct {
	users, instances, nodes, audit, removals int
	ports                                    string
}

// snapshot reads the panel's state from the store.
func (p *testPanel) snapshot() state {
	p.t.Helper()
	ctx := context.Background()
	users, err := p.st.ListUsers(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	insts, err := p.st.ListInstances(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	nodes, err := p.st.ListNodes(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	audit, err := p.st.AuditLog(ctx, 100000)
	if err != nil {
		p.t.Fatal(err)
	}
	removals, err := p.st.DueRemovals(ctx, time.Now().Add(24*time.Hour))
	if err != nil {
		p.t.Fatal(err)
	}
	var list []string
	for _, in := range insts {
		list = append(list, in.ID+"="+in.NodeID+"/"+ports.Format(in.Ports)+"/"+boolWord(in.Suspended))
	}
	slices.Sort(list)
	return state{users: len(users), instances: len(insts), nodes: len(nodes), audit: len(audit),
		removals: len(removals), ports: strings.Join(list, ";")}
}

func boolWord(b bool) string {
	if b {
		return "suspended"
	}
	return "active"
}

// expectUnchanged fails if the state differs from before.
func (p *testPanel) expectUnchanged(before state) {
	p.t.Helper()
	if after := p.snapshot(); after != before {
		p.t.Errorf("a rejected request changed the state:\nbefore %+v\nafter  %+v", before, after)
	}
}

// lastAudit returns the newest audit entry.
func (p *testPanel) lastAudit() store.AuditEntry {
	p.t.Helper()
	list, err := p.st.AuditLog(context.Background(), 1)
	if err != nil {
		p.t.Fatal(err)
	}
	if len(list) == 0 {
		p.t.Fatal("audit log is empty")
	}
	return list[0]
}

// expectAudit checks that the newest audit entry records action on target
// by this panel's key.
func (p *testPanel) expectAudit(action, target string) {
	p.t.Helper()
	e := p.lastAudit()
	if e.Action != action || e.Target != target || e.CredentialID != p.keyID {
		p.t.Errorf("newest audit entry = %+v, want action %q target %q key %q", e, action, target, p.keyID)
	}
}

// hasKeys fails unless m has every one of keys.
func hasKeys(t testing.TB, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks field %q: %v", what, k, m)
		}
	}
}

// lacksKeys fails if m has any of keys.
func lacksKeys(t testing.TB, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; ok {
			t.Errorf("%s has field %q, which it must not: %v", what, k, m)
		}
	}
}

// indexBy maps each object of list by its string field key, failing on a
// missing or repeated key.
func indexBy(t testing.TB, list []map[string]any, key string) map[string]map[string]any {
	t.Helper()
	out := make(map[string]map[string]any, len(list))
	for _, m := range list {
		k, _ := m[key].(string)
		if k == "" || out[k] != nil {
			t.Fatalf("%q is missing or repeated in %v", key, list)
		}
		out[k] = m
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
