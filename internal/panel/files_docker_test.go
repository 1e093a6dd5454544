package panel_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/runtime/docker"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// These tests run the file manager end to end on real Docker: a panel on
// SQLite with its reconciler, a node daemon over the Docker runtime, and a
// game server deployed through the API. Every call goes through the
// panel's HTTP API with an API key, as a client's would.

// filesEnv is a running instance reachable through a panel.
type filesEnv struct {
	st     *store.Store
	url    string
	key    string
	id     string
	volume string
	web    *http.Client
}

// newFilesEnv deploys the test game server with a disk limit of diskMiB
// and waits until it runs. The panel's upload cap is uploadCap bytes.
func newFilesEnv(t *testing.T, diskMiB int, uploadCap int64) *filesEnv {
	t.Helper()
	cli := dockertest.RequireDocker(t)
	image := dockertest.GameServerImage(t)
	st, err := store.Open(t.Context(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &filesEnv{st: st, key: secret.NewToken("berth_"), web: &http.Client{Timeout: time.Minute}}
	if err := st.CreateAPIKey(t.Context(), store.APIKey{ID: store.NewID(8), Name: "test", KeyHash: secret.Hash(e.key), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// The node, registered and configured as `berth node configure` would.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nodeID, cfgKey, token := store.NewID(16), secret.NewToken("berth_cfg_"), secret.NewToken("berth_node_")
	now := time.Now()
	if err := st.CreateNode(t.Context(), store.Node{ID: nodeID, Name: "node-files", RAMMiB: 8192, DiskMiB: 8192,
		Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: now},
		secret.Hash(cfgKey), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConfigureNode(t.Context(), secret.Hash(cfgKey), token, "", now); err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	nodeDir := t.TempDir()
	d, err := node.New(node.Config{Dir: nodeDir, TokenSHA256: secret.Hash(token), Version: "test",
		StopTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second}, rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	nodeCtx, stopNode := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(nodeCtx, ln) }()
	t.Cleanup(func() {
		stopNode()
		if err := <-served; err != nil {
			t.Errorf("node: %v", err)
		}
	})

	rec := reconcile.New(reconcile.Config{Store: st, Interval: 200 * time.Millisecond, HealthTimeout: time.Second})
	recCtx, stopRec := context.WithCancel(context.Background())
	recDone := make(chan struct{})
	go func() { defer close(recDone); rec.Run(recCtx) }()
	t.Cleanup(func() { stopRec(); <-recDone })

	server := panel.New(panel.Config{Store: st, Kick: rec.Kick, KickNode: rec.KickNode, MaxUploadBytes: uploadCap})
	srv := httptest.NewServer(validated(t, server, server.Handler()))
	t.Cleanup(srv.Close)
	e.url = srv.URL

	code, b := e.json(t, http.MethodPost, "/api/auth/create-user", map[string]any{
		"username": "filer", "email": "filer@example.com", "password": "correct horse"})
	var u struct {
		UserID string `json:"userId"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &u) != nil {
		t.Fatalf("create user: %d %s", code, b)
	}
	port := dockertest.FreePort(t)
	code, b = e.json(t, http.MethodPost, "/api/instances/deploy", map[string]any{
		"name": "files", "image": image, "memory": 64, "cpu": 0.5, "disk": diskMiB,
		"ports": "25565:" + strconv.Itoa(port), "primary": strconv.Itoa(port), "nodeId": nodeID, "user": u.UserID})
	var dep struct {
		Instance struct {
			ID string `json:"Id"`
		} `json:"instance"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &dep) != nil || dep.Instance.ID == "" {
		t.Fatalf("deploy: %d %s", code, b)
	}
	e.id = dep.Instance.ID
	e.volume = filepath.Join(nodeDir, "volumes", e.id)
	dockertest.Cleanup(t, cli, e.id)

	deadline := time.Now().Add(90 * time.Second)
	for {
		_, b := e.json(t, http.MethodPost, "/api/getInstance", map[string]string{"id": e.id})
		var in struct {
			InternalState, Status, Error string
		}
		json.Unmarshal(b, &in)
		if in.InternalState == store.StateReady && in.Status == "running" {
			break
		}
		if in.InternalState == store.StateFailed || time.Now().After(deadline) {
			t.Fatalf("instance never ran: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return e
}

// do sends an authenticated request and returns the status, headers and
// body.
func (e *filesEnv) do(t *testing.T, method, path string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("x-api-key", e.key)
	resp, err := e.web.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *filesEnv) json(t *testing.T, method, path string, v any) (int, []byte) {
	t.Helper()
	var body io.Reader
	h := http.Header{}
	if v != nil {
		raw, _ := json.Marshal(v)
		body = bytes.NewReader(raw)
		h.Set("Content-Type", "application/json")
	}
	code, _, b := e.do(t, method, path, body, h)
	return code, b
}

// expect sends a JSON request and fails unless it is answered want.
func (e *filesEnv) expect(t *testing.T, want int, method, path string, v any) []byte {
	t.Helper()
	code, b := e.json(t, method, path, v)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	return b
}

func (e *filesEnv) files(suffix string) string { return "/api/instances/files/" + e.id + suffix }

func uploadBody(t *testing.T, files map[string][]byte) (*bytes.Buffer, http.Header) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, content := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="files"; filename="`+name+`"`)
		pw, _ := mw.CreatePart(h)
		pw.Write(content)
	}
	mw.Close()
	return &buf, http.Header{"Content-Type": {mw.FormDataContentType()}}
}

func TestFileManagerThroughPanelOnRunningInstance(t *testing.T) {
	e := newFilesEnv(t, 0, 0)

	// Write, then read back through the API and on the node's disk.
	code, _, b := e.do(t, http.MethodPut, e.files("/content?path=server.properties"), strings.NewReader("motd=berth\n"), nil)
	if code != http.StatusOK {
		t.Fatalf("write: %d %s", code, b)
	}
	code, h, b := e.do(t, http.MethodGet, e.files("/content?path=server.properties"), nil, nil)
	if code != http.StatusOK || string(b) != "motd=berth\n" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("read: %d %q %v", code, b, h)
	}
	if disk, err := os.ReadFile(filepath.Join(e.volume, "server.properties")); err != nil || string(disk) != "motd=berth\n" {
		t.Fatalf("on the node's disk: %q, %v", disk, err)
	}

	// Upload past the 1 MiB cap of ordinary bodies, then download it.
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	e.expect(t, http.StatusCreated, http.MethodPost, e.files("/mkdir"), map[string]string{"path": "plugins"})
	body, hdr := uploadBody(t, map[string][]byte{"big.bin": big, "small.txt": []byte("small")})
	code, _, b = e.do(t, http.MethodPost, e.files("/upload?path=plugins"), body, hdr)
	if code != http.StatusCreated || !strings.Contains(string(b), `"path":"plugins/big.bin"`) {
		t.Fatalf("upload: %d %s", code, b)
	}
	code, h, b = e.do(t, http.MethodGet, e.files("/download?path=plugins/big.bin"), nil, nil)
	if code != http.StatusOK || !bytes.Equal(b, big) || h.Get("Content-Length") != strconv.Itoa(len(big)) ||
		!strings.Contains(h.Get("Content-Disposition"), "big.bin") {
		t.Fatalf("download: %d, %d bytes, headers %v", code, len(b), h)
	}
	code, _, b = e.do(t, http.MethodGet, e.files("/download?path=plugins/big.bin"), nil, http.Header{"Range": {"bytes=16-31"}})
	if code != http.StatusPartialContent || string(b) != "0123456789abcdef" {
		t.Fatalf("ranged download: %d %q", code, b)
	}
	code, _, b = e.do(t, http.MethodGet, e.files("/content?path=plugins/big.bin"), nil, nil)
	if code != http.StatusOK || len(b) != len(big) {
		t.Fatalf("content read of a 3 MiB file: %d, %d bytes", code, len(b))
	}

	// List, rename, compress, delete, extract.
	b = e.expect(t, http.StatusOK, http.MethodGet, e.files("?path=plugins"), nil)
	var list struct {
		Path    string `json:"path"`
		Entries []struct {
			Name  string `json:"name"`
			Size  int64  `json:"size"`
			IsDir bool   `json:"isDir"`
		} `json:"entries"`
	}
	if json.Unmarshal(b, &list) != nil || list.Path != "plugins" || len(list.Entries) != 2 || list.Entries[0].Name != "big.bin" ||
		list.Entries[0].Size != int64(len(big)) {
		t.Fatalf("list: %s", b)
	}
	e.expect(t, http.StatusOK, http.MethodPost, e.files("/rename"), map[string]string{"from": "plugins/small.txt", "to": "plugins/renamed.txt"})
	e.expect(t, http.StatusCreated, http.MethodPost, e.files("/compress"), map[string]any{"paths": []string{"plugins", "server.properties"}, "destination": "backup.tar.gz"})
	e.expect(t, http.StatusOK, http.MethodPost, e.files("/delete"), map[string]any{"paths": []string{"plugins", "server.properties"}})
	if _, err := os.Stat(filepath.Join(e.volume, "plugins")); !os.IsNotExist(err) {
		t.Fatalf("plugins still on disk after delete: %v", err)
	}
	b = e.expect(t, http.StatusOK, http.MethodPost, e.files("/extract"), map[string]string{"path": "backup.tar.gz"})
	if !strings.Contains(string(b), `"files":3`) {
		t.Errorf("extract answered %s, want 3 files", b)
	}
	if got, err := os.ReadFile(filepath.Join(e.volume, "plugins", "renamed.txt")); err != nil || string(got) != "small" {
		t.Errorf("restored renamed.txt = %q, %v", got, err)
	}

	b = e.expect(t, http.StatusOK, http.MethodGet, "/api/instances/disk/"+e.id, nil)
	var usage struct {
		UsedBytes, LimitBytes int64
	}
	json.Unmarshal(b, &usage)
	if usage.UsedBytes < int64(len(big)) || usage.LimitBytes != 0 {
		t.Errorf("disk: %s", b)
	}

	// Every change was audited.
	entries, err := e.st.AuditLog(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range entries {
		seen[a.Action] = a.Target == e.id
	}
	for _, action := range []string{"write", "mkdir", "upload", "rename", "compress", "delete", "extract"} {
		if !seen["instance.files."+action] {
			t.Errorf("no audit entry for instance.files.%s on %s", action, e.id)
		}
	}
}

func TestFileManagerThroughPanelRefusesTraversalAndOversizedBodies(t *testing.T) {
	e := newFilesEnv(t, 4, 2<<20)
	if err := os.Symlink("/etc", filepath.Join(e.volume, "etc")); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(e.volume)
	listing := func() string {
		var names []string
		filepath.Walk(filepath.Dir(parent), func(p string, info os.FileInfo, err error) error {
			if err == nil && !strings.HasPrefix(p, e.volume) {
				names = append(names, p+" "+info.ModTime().String())
			}
			return nil
		})
		return strings.Join(names, "\n")
	}
	before := listing()
	for _, c := range []struct {
		method, path string
		want         int
		field        string
	}{
		{http.MethodGet, e.files("?path=%2e%2e%2f%2e%2e"), 403, "path"},
		{http.MethodGet, e.files("/content?path=..%2F..%2Finstances%2F" + e.id + ".json"), 403, "path"},
		{http.MethodGet, e.files("/download?path=%2Fetc%2Fpasswd"), 403, "path"},
		{http.MethodGet, e.files("/download?path=etc%2Fpasswd"), 403, "path"},
		{http.MethodGet, e.files("?path=etc"), 403, "path"},
		{http.MethodGet, e.files("/content?path=a%00b"), 400, "path"},
		{http.MethodGet, e.files("/content"), 400, "path"},
		{http.MethodGet, e.files("?path=a;b"), 400, "query"},
	} {
		code, _, b := e.do(t, c.method, c.path, nil, nil)
		if code != c.want || !strings.Contains(string(b), `"error":"`+c.field+`: `) {
			t.Errorf("%s %s: %d %s, want %d naming %s", c.method, c.path, code, b, c.want, c.field)
		}
	}
	for _, c := range []struct {
		path  string
		body  any
		want  int
		field string
	}{
		{"/mkdir", map[string]string{"path": "../escape"}, 403, "path"},
		{"/mkdir", map[string]string{"path": "etc/berth-probe"}, 403, "path"},
		{"/mkdir", map[string]any{"path": 5}, 400, "path"},
		{"/rename", map[string]string{"from": "etc", "to": "/tmp/x"}, 403, "to"},
		{"/delete", map[string]any{"paths": []string{"etc/passwd"}}, 403, "paths"},
		{"/delete", map[string]any{"paths": []string{}}, 400, "paths"},
		{"/compress", map[string]any{"paths": []string{"etc"}, "destination": "../out.tar.gz"}, 403, "destination"},
		{"/extract", map[string]string{"path": "/etc/x.tar.gz"}, 403, "path"},
		{"/extract", map[string]string{"destination": "x"}, 400, "path"},
	} {
		code, b := e.json(t, http.MethodPost, e.files(c.path), c.body)
		if code != c.want || !strings.Contains(string(b), `"error":"`+c.field+`: `) {
			t.Errorf("POST %s %v: %d %s, want %d naming %s", c.path, c.body, code, b, c.want, c.field)
		}
	}
	// A zip-slip archive put there by the game: refused by the node.
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "../../escaped.txt", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	gz.Close()
	if err := os.WriteFile(filepath.Join(e.volume, "slip.tar.gz"), tgz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, b := e.json(t, http.MethodPost, e.files("/extract"), map[string]string{"path": "slip.tar.gz"})
	if code != http.StatusForbidden || !strings.Contains(string(b), "outside the destination") {
		t.Errorf("zip-slip extract: %d %s, want 403", code, b)
	}
	if after := listing(); after != before {
		t.Errorf("ESCAPE: outside the data folder changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Body caps: the panel's upload cap (2 MiB here), the content cap,
	// and the instance's disk limit (4 MiB) as the node enforces it.
	body, hdr := uploadBody(t, map[string][]byte{"big.bin": make([]byte, 3<<20)})
	code, _, b = e.do(t, http.MethodPost, e.files("/upload"), body, hdr)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "panel's cap of 2.0 MiB") {
		t.Errorf("upload over the panel's cap: %d %s", code, b)
	}
	for i := range 3 {
		body, hdr = uploadBody(t, map[string][]byte{"part" + strconv.Itoa(i): make([]byte, 1800<<10)})
		code, _, b = e.do(t, http.MethodPost, e.files("/upload"), body, hdr)
		if i < 2 && code != http.StatusCreated {
			t.Fatalf("upload %d under the disk limit: %d %s", i, code, b)
		}
	}
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "disk limit of 4.0 MiB") {
		t.Errorf("upload past the disk limit: %d %s", code, b)
	}
	code, _, b = e.do(t, http.MethodPut, e.files("/content?path=x"), bytes.NewReader(make([]byte, 9<<20)), nil)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("content write over its cap: %d %s", code, b)
	}
	// The same, streamed without a length: cut off as it passes the cap.
	code, _, b = e.do(t, http.MethodPut, e.files("/content?path=x"), io.LimitReader(zeroReader{}, 9<<20), nil)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed content write over its cap: %d %s", code, b)
	}
	body, hdr = uploadBody(t, map[string][]byte{"big.bin": make([]byte, 3<<20)})
	code, _, b = e.do(t, http.MethodPost, e.files("/upload"), io.MultiReader(body), hdr)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "panel's cap of 2.0 MiB") {
		t.Errorf("streamed upload over the panel's cap: %d %s", code, b)
	}
	if _, err := os.Stat(filepath.Join(e.volume, "x")); !os.IsNotExist(err) {
		t.Errorf("a refused write left its file: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+e.files(""), nil)
	resp, err := e.web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("files without an API key: %d, want 401", resp.StatusCode)
	}
}

// zeroReader reads as endless zeros.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
