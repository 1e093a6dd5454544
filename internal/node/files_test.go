package node

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// callRaw sends one authenticated request with a raw body and content type.
func callRaw(t *testing.T, d *Daemon, method, target string, body io.Reader, contentType string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	d.Handler().ServeHTTP(w, req)
	return w
}

// multipartBody builds an upload with one file part per name, the file
// name written raw.
func multipartBody(t *testing.T, files map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, content := range files {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="files"; filename="` + name + `"`}
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(pw, content)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func tarGzOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
		io.WriteString(tw, body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// expectStatus fails unless w answered want, and returns its error text
// when it is an error.
func expectStatus(t *testing.T, w *httptest.ResponseRecorder, want int, what string) string {
	t.Helper()
	if w.Code != want {
		t.Fatalf("%s: %d %s, want %d", what, w.Code, w.Body, want)
	}
	if want >= 400 {
		return errorText(t, w)
	}
	return ""
}

// fileInstance ensures a running instance and returns its data folder.
func fileInstance(t *testing.T, d *Daemon, id string, diskMiB int64) string {
	t.Helper()
	spec := validSpec(id)
	spec.DiskMiB = diskMiB
	ensureOK(t, d, spec)
	return filepath.Join(d.cfg.Dir, "volumes", id)
}

func TestFileAPIThroughTheNode(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	vol := fileInstance(t, d, "files-a", 0)
	base := "/v1/instances/files-a/files"

	w := callRaw(t, d, http.MethodPut, base+"/content?path=server.properties", strings.NewReader("motd=hi\n"), "")
	expectStatus(t, w, http.StatusOK, "write")
	if e := decode[nodeapi.FileEntry](t, w); e.Path != "server.properties" || e.Size != 8 {
		t.Errorf("write answered %+v", e)
	}
	w = call(t, d, http.MethodGet, base+"/content?path=server.properties", nil)
	expectStatus(t, w, http.StatusOK, "read")
	if w.Body.String() != "motd=hi\n" || w.Header().Get("Content-Type") != "application/octet-stream" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("read answered %q with %v", w.Body, w.Header())
	}
	expectStatus(t, call(t, d, http.MethodPost, base+"/mkdir", nodeapi.PathRequest{Path: "world/region"}), http.StatusCreated, "mkdir")
	expectStatus(t, call(t, d, http.MethodPost, base+"/rename", nodeapi.RenameRequest{From: "server.properties", To: "world/sp"}), http.StatusOK, "rename")

	body, ct := multipartBody(t, map[string]string{"a.jar": "AAAA", "b.jar": "BB"})
	w = callRaw(t, d, http.MethodPost, base+"/upload?path=world", body, ct)
	expectStatus(t, w, http.StatusCreated, "upload")
	if res := decode[nodeapi.UploadResult](t, w); len(res.Files) != 2 {
		t.Errorf("upload answered %+v", res)
	}

	w = call(t, d, http.MethodGet, base+"?path=world", nil)
	expectStatus(t, w, http.StatusOK, "list")
	list := decode[nodeapi.FileList](t, w)
	var names []string
	for _, e := range list.Entries {
		names = append(names, e.Name)
	}
	if list.Path != "world" || strings.Join(names, ",") != "region,a.jar,b.jar,sp" {
		t.Errorf("list = %+v", list)
	}

	w = call(t, d, http.MethodGet, base+"/download?path=world/a.jar", nil)
	expectStatus(t, w, http.StatusOK, "download")
	if w.Body.String() != "AAAA" || !strings.Contains(w.Header().Get("Content-Disposition"), `filename=a.jar`) {
		t.Errorf("download answered %q with %v", w.Body, w.Header())
	}
	req := httptest.NewRequest(http.MethodGet, base+"/download?path=world/a.jar", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Range", "bytes=1-2")
	rw := httptest.NewRecorder()
	d.Handler().ServeHTTP(rw, req)
	if rw.Code != http.StatusPartialContent || rw.Body.String() != "AA" {
		t.Errorf("ranged download: %d %q", rw.Code, rw.Body)
	}

	w = call(t, d, http.MethodPost, base+"/compress", nodeapi.CompressRequest{Paths: []string{"world"}, Destination: "world.tar.gz"})
	expectStatus(t, w, http.StatusCreated, "compress")
	w = call(t, d, http.MethodPost, base+"/extract", nodeapi.ExtractRequest{Path: "world.tar.gz", Destination: "copy"})
	expectStatus(t, w, http.StatusOK, "extract")
	if res := decode[nodeapi.ExtractResult](t, w); res.Files != 3 {
		t.Errorf("extract answered %+v, want 3 files", res)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "copy", "world", "b.jar")); err != nil || string(b) != "BB" {
		t.Errorf("extracted b.jar = %q, %v", b, err)
	}
	w = call(t, d, http.MethodPost, base+"/delete", nodeapi.DeleteRequest{Paths: []string{"copy", "world.tar.gz"}})
	expectStatus(t, w, http.StatusOK, "delete")
	if _, err := os.Stat(filepath.Join(vol, "copy")); !os.IsNotExist(err) {
		t.Errorf("copy still exists: %v", err)
	}

	w = call(t, d, http.MethodGet, "/v1/instances/files-a/disk", nil)
	expectStatus(t, w, http.StatusOK, "disk")
	// Two folders and three small files, a block each.
	if u := decode[nodeapi.DiskUsage](t, w); u.UsedBytes != 5*files.BlockSize || u.LimitBytes != 0 {
		t.Errorf("disk = %+v, want 5 blocks used and no limit", u)
	}
}

func TestFileAPIErrorsNameTheFieldAndUseTheirStatus(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	fileInstance(t, d, "files-b", 0)
	base := "/v1/instances/files-b/files"
	cases := []struct {
		name   string
		w      *httptest.ResponseRecorder
		status int
		field  string
	}{
		{"read missing path", call(t, d, http.MethodGet, base+"/content", nil), 400, "path"},
		{"read missing file", call(t, d, http.MethodGet, base+"/content?path=nope", nil), 404, "path"},
		{"list a file's place", call(t, d, http.MethodGet, base+"?path=nope", nil), 404, "path"},
		{"mkdir at root", call(t, d, http.MethodPost, base+"/mkdir", nodeapi.PathRequest{Path: "/x"}), 403, "path"},
		{"rename to dot-dot", call(t, d, http.MethodPost, base+"/rename", nodeapi.RenameRequest{From: "a", To: "../a"}), 403, "to"},
		{"delete nothing", call(t, d, http.MethodPost, base+"/delete", nodeapi.DeleteRequest{}), 400, "paths"},
		{"compress to zip", call(t, d, http.MethodPost, base+"/compress", nodeapi.CompressRequest{Paths: []string{"."}, Destination: "a.zip"}), 400, "destination"},
		{"extract a rar", call(t, d, http.MethodPost, base+"/extract", nodeapi.ExtractRequest{Path: "a.rar"}), 400, "path"},
		{"upload not multipart", callRaw(t, d, http.MethodPost, base+"/upload", strings.NewReader("x"), "text/plain"), 400, "body"},
		{"malformed query", call(t, d, http.MethodGet, base+"?path=a;b", nil), 400, "query"},
		{"unknown instance", call(t, d, http.MethodGet, "/v1/instances/nope/files", nil), 404, ""},
	}
	for _, c := range cases {
		msg := expectStatus(t, c.w, c.status, c.name)
		if c.field != "" && !strings.HasPrefix(msg, c.field+": ") {
			t.Errorf("%s: error %q does not name the field %q", c.name, msg, c.field)
		}
	}
	if w := callWithToken(t, d, http.MethodGet, base, nil, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("files without a token: %d, want 401", w.Code)
	}
}

// TestFileAPIRefusesEncodedTraversal sends the traversal forms that only
// exist on the wire, percent-encoded, through every route, and checks that
// the node's own files beside the data folder stay as they were.
func TestFileAPIRefusesEncodedTraversal(t *testing.T) {
	// Every extract here is a traversal to refuse, not one to rate.
	d := newTunedTestDaemon(t, fake.New(), t.TempDir(), nil, func(c *Config) { c.Files.MaxExtractsPerMinute = 1 << 20 })
	vol := fileInstance(t, d, "files-c", 0)
	if err := os.Symlink("../../instances", filepath.Join(vol, "specs")); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, d.cfg.Dir, vol)
	encoded := []struct {
		query  string
		status int
	}{
		{"%2e%2e%2f%2e%2e%2finstances%2ffiles-c.json", 403},
		{"..%2F..%2Finstances%2Ffiles-c.json", 403},
		{"%2e%2e", 403},
		{"%2Finstances", 403},
		{"%2F", 403},
		{"specs%2ffiles-c.json", 403},
		{"specs/files-c.json", 403},
		{"x%00y", 400},
		{"%00", 400},
		{"%c0%af", 400},
		{"%ff%fe", 400},
		{strings.Repeat("a", 300), 400},
	}
	routes := []struct {
		method, path string
		body         func() (io.Reader, string)
	}{
		{http.MethodGet, "", nil},
		{http.MethodGet, "/content", nil},
		{http.MethodGet, "/download", nil},
		{http.MethodPut, "/content", func() (io.Reader, string) { return strings.NewReader("pwned"), "" }},
		{http.MethodPost, "/upload", func() (io.Reader, string) {
			b, ct := multipartBody(t, map[string]string{"up.txt": "pwned"})
			return b, ct
		}},
	}
	for _, e := range encoded {
		for _, r := range routes {
			var body io.Reader
			var ct string
			if r.body != nil {
				body, ct = r.body()
			}
			target := "/v1/instances/files-c/files" + r.path + "?path=" + e.query
			w := callRaw(t, d, r.method, target, body, ct)
			if w.Code != e.status {
				t.Errorf("%s %s: %d %s, want %d", r.method, target, w.Code, w.Body, e.status)
			}
		}
		// And the same path in every JSON body, where it can be written:
		// JSON cannot carry invalid UTF-8.
		p := decodeQuery(t, e.query)
		if !utf8.ValidString(p) {
			continue
		}
		for _, c := range []struct {
			path string
			body any
		}{
			{"/mkdir", nodeapi.PathRequest{Path: p}},
			{"/rename", nodeapi.RenameRequest{From: p, To: "moved"}},
			{"/rename", nodeapi.RenameRequest{From: "specs", To: p}},
			{"/delete", nodeapi.DeleteRequest{Paths: []string{p}}},
			{"/compress", nodeapi.CompressRequest{Paths: []string{p}, Destination: "out.tar.gz"}},
			{"/extract", nodeapi.ExtractRequest{Path: p + ".tar.gz", Destination: "."}},
			{"/extract", nodeapi.ExtractRequest{Path: "a.tar.gz", Destination: p}},
		} {
			if p == "specs/files-c.json" && c.path == "/delete" {
				continue // deleting the link's target is refused, but see below
			}
			w := call(t, d, http.MethodPost, "/v1/instances/files-c/files"+c.path, c.body)
			if w.Code < 400 || w.Code >= 500 {
				t.Errorf("POST %s %+v: %d %s, want a refusal", c.path, c.body, w.Code, w.Body)
			}
		}
	}
	w := call(t, d, http.MethodPost, "/v1/instances/files-c/files/delete", nodeapi.DeleteRequest{Paths: []string{"specs/files-c.json"}})
	expectStatus(t, w, http.StatusForbidden, "delete through a link")
	if after := snapshotDir(t, d.cfg.Dir, vol); after != before {
		t.Errorf("ESCAPE: the node's folder changed outside the data folder:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func decodeQuery(t *testing.T, q string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/?path="+q, nil)
	return r.URL.Query().Get("path")
}

// snapshotDir lists everything under dir but skip, with sizes and times.
func snapshotDir(t *testing.T, dir, skip string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if p == skip {
			return filepath.SkipDir
		}
		b.WriteString(p + " " + info.Mode().String() + " " + info.ModTime().String() + "\n")
		return nil
	})
	return b.String()
}

func TestDiskLimitRefusesWritesUploadsAndExtracts(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	vol := fileInstance(t, d, "disk-a", 1)
	base := "/v1/instances/disk-a/files"
	mib := strings.Repeat("x", 1<<20)

	expectStatus(t, callRaw(t, d, http.MethodPut, base+"/content?path=half", strings.NewReader(mib[:600<<10]), ""), http.StatusOK, "write under the limit")
	msg := expectStatus(t, callRaw(t, d, http.MethodPut, base+"/content?path=more", strings.NewReader(mib[:600<<10]), ""), http.StatusRequestEntityTooLarge, "write past the limit")
	if !strings.Contains(msg, "disk limit of 1.0 MiB") {
		t.Errorf("message %q does not name the limit", msg)
	}
	body, ct := multipartBody(t, map[string]string{"up": mib[:600<<10]})
	expectStatus(t, callRaw(t, d, http.MethodPost, base+"/upload", body, ct), http.StatusRequestEntityTooLarge, "upload past the limit")

	// An archive that fits compressed, not unpacked: refused before writing.
	if err := os.WriteFile(filepath.Join(vol, "pack.tar.gz"), tarGzOf(t, map[string]string{"big": mib}), 0o644); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, call(t, d, http.MethodPost, base+"/extract", nodeapi.ExtractRequest{Path: "pack.tar.gz", Destination: "out"}), http.StatusRequestEntityTooLarge, "extract past the limit")
	if _, err := os.Stat(filepath.Join(vol, "out")); !os.IsNotExist(err) {
		t.Errorf("a refused extract created its destination: %v", err)
	}
	for _, name := range []string{"more", "up"} {
		if _, err := os.Stat(filepath.Join(vol, name)); !os.IsNotExist(err) {
			t.Errorf("%s was written by a refused request", name)
		}
	}
}

func TestDiskUsageIsAdjustedIncrementallyNotWalkedPerRequest(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	vol := fileInstance(t, d, "disk-b", 10)
	used := func() int64 {
		w := call(t, d, http.MethodGet, "/v1/instances/disk-b/disk", nil)
		expectStatus(t, w, http.StatusOK, "disk")
		u := decode[nodeapi.DiskUsage](t, w)
		if u.LimitBytes != 10<<20 {
			t.Fatalf("limit = %d, want 10 MiB", u.LimitBytes)
		}
		return u.UsedBytes
	}
	if n := used(); n != 0 {
		t.Fatalf("fresh instance uses %d", n)
	}
	// Written behind the API's back (as the game would): not seen until
	// the next walk, which proves no request walks the folder.
	if err := os.WriteFile(filepath.Join(vol, "game.log"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, callRaw(t, d, http.MethodPut, "/v1/instances/disk-b/files/content?path=a", strings.NewReader("12345"), ""), http.StatusOK, "write")
	if n := used(); n != files.BlockSize {
		t.Fatalf("after a 5-byte write: %d, want a block (no walk)", n)
	}
	expectStatus(t, call(t, d, http.MethodPost, "/v1/instances/disk-b/files/delete", nodeapi.DeleteRequest{Paths: []string{"a"}}), http.StatusOK, "delete")
	if n := used(); n != 0 {
		t.Fatalf("after deleting it: %d, want 0", n)
	}
	d.checkDisks(t.Context())
	if n := used(); n != files.BlockSize {
		t.Fatalf("after a periodic walk: %d, want the game's 1000 bytes, a block", n)
	}
}

func TestPeriodicCheckStopsInstanceOverItsLimitAndStartIsRefusedUntilUnder(t *testing.T) {
	rt := fake.New()
	dir := t.TempDir()
	d, err := New(Config{Dir: dir, TokenSHA256: secret.Hash(testToken), Version: "test",
		StopTimeout: 7 * time.Second, Files: FilesConfig{DiskCheckInterval: 5 * time.Millisecond}}, rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	vol := fileInstance(t, d, "disk-c", 1)
	if st := getStatus(t, d, "disk-c"); !st.Running {
		t.Fatalf("instance not running: %+v", st)
	}
	ctx, cancel := context.WithCancel(t.Context())
	stop := d.watchDisk(ctx)
	defer func() { cancel(); stop() }()

	// The game writes past its limit.
	if err := os.WriteFile(filepath.Join(vol, "world.dat"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var st nodeapi.InstanceStatus
	waitFor(t, "the periodic check to stop the instance and say why", func() bool {
		st = getStatus(t, d, "disk-c")
		return !st.Running && st.Error != ""
	})
	if st.Status != nodeapi.StatusStopped || !strings.Contains(st.Error, "over the instance's disk limit of 1 MiB") {
		t.Errorf("after the check: %+v, want stopped (not crashed) with the reason", st)
	}

	msg := expectStatus(t, power(t, d, "disk-c", nodeapi.ActionStart), http.StatusConflict, "start over the limit")
	if msg != "instance is over its disk limit (2 MiB of 1 MiB)" {
		t.Errorf("start refused with %q", msg)
	}
	expectStatus(t, power(t, d, "disk-c", nodeapi.ActionRestart), http.StatusConflict, "restart over the limit")
	spec := validSpec("disk-c")
	spec.DiskMiB = 1
	spec.Generation = 2
	expectStatus(t, call(t, d, http.MethodPut, "/v1/instances/disk-c", spec), http.StatusConflict, "ensure over the limit")
	if c, _ := rt.Container("disk-c"); c.State.Running {
		t.Fatal("a refused start started the container")
	}

	// Back under: the start goes through and clears the error.
	expectStatus(t, call(t, d, http.MethodPost, "/v1/instances/disk-c/files/delete", nodeapi.DeleteRequest{Paths: []string{"world.dat"}}), http.StatusOK, "delete")
	w := power(t, d, "disk-c", nodeapi.ActionStart)
	expectStatus(t, w, http.StatusOK, "start back under the limit")
	if st := decode[nodeapi.InstanceStatus](t, w); !st.Running || st.Error != "" {
		t.Errorf("after the start: %+v", st)
	}
	cancel()
	stop() // returns only once the check's goroutine has ended
}
