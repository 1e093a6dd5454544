package reconcile_test

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/store"
)

// These tests install instances on real Docker through the panel's API:
// install scripts in the busybox image, Skyport downloads from an https
// server on loopback, and the Done-when of the templates issue: an egg
// and a Skyport image, each imported and deployed, install and all.

// importTemplate posts doc to POST /api/images and returns the stored
// template's Name.
func (c *cluster) importTemplate(t *testing.T, doc string) string {
	t.Helper()
	code, b := c.call(t, http.MethodPost, "/api/images", json.RawMessage(doc))
	var tmpl struct {
		ID   string `json:"Id"`
		Name string `json:"Name"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &tmpl) != nil || tmpl.ID == "" {
		t.Fatalf("POST /api/images: %d %s", code, b)
	}
	return tmpl.Name
}

// installLog is GET /api/instances/install-log/{id}.
type installLog struct {
	ID         string   `json:"id"`
	Lines      []string `json:"lines"`
	Installing bool     `json:"installing"`
	Installed  bool     `json:"installed"`
	Error      string   `json:"error"`
}

func (c *cluster) installLog(t *testing.T, id string) installLog {
	t.Helper()
	code, b := c.call(t, http.MethodGet, "/api/instances/install-log/"+id, nil)
	var l installLog
	if code != http.StatusOK || json.Unmarshal(b, &l) != nil {
		t.Fatalf("GET install-log of %s: %d %s", id, code, b)
	}
	return l
}

// berthTemplate is a template in Berth's format running the game server
// image after installScript, run by sh in the busybox image.
func berthTemplate(t *testing.T, name, gameImage, installScript string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"Format": "berth/v1", "Name": name, "Image": gameImage, "StopCommand": "stop",
		"ReadyPatterns": []string{"Server ready"},
		"Scripts": map[string]any{"Installer": map[string]any{
			"Image": dockertest.BusyboxImage(t), "Entrypoint": "sh", "Script": installScript}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// expectDataFile fails unless the instance's data folder on n holds name
// with content.
func expectDataFile(t *testing.T, n testNode, id, name, content string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "volumes", id, name))
	if err != nil || string(b) != content {
		t.Errorf("%s in the data folder = %q, %v; want %q", name, b, err, content)
	}
}

// expectOnlyTheInstanceContainer fails unless the instance has exactly
// one container left, its own: the install container is gone.
func (c *cluster) expectOnlyTheInstanceContainer(t *testing.T, id string) {
	t.Helper()
	list := dockertest.Containers(t, c.cli, id)
	if len(list) != 1 || !slices.Contains(list[0].Names, "/berth-"+id) {
		t.Errorf("containers of %s = %+v, want only berth-%s", id, list, id)
	}
}

func TestInstallScriptWritesIntoDataFolderBeforeTheInstanceRuns(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a")
	name := c.importTemplate(t, berthTemplate(t, "Installed game", c.image, `set -e
echo "installing for port $SERVER_PORT"
mkdir -p /mnt/server/config
echo made-by-install > /mnt/server/config/installed.txt
`))
	id := c.deploy(t, n, name, dockertest.FreePort(t))
	c.waitReadyAndRunning(t, id)

	expectDataFile(t, n, id, "config/installed.txt", "made-by-install\n")
	c.expectOnlyTheInstanceContainer(t, id)
	l := c.installLog(t, id)
	joined := strings.Join(l.Lines, "\n")
	if l.ID != id || l.Installing || !l.Installed || l.Error != "" {
		t.Errorf("install log = %+v, want installed without error", l)
	}
	for _, want := range []string{"installing for port 25565", "install script exited with code 0"} {
		if !strings.Contains(joined, want) {
			t.Errorf("install log lacks %q:\n%s", want, joined)
		}
	}
}

func TestFailingInstallScriptFailsTheInstanceWithTheLogTail(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a")
	name := c.importTemplate(t, berthTemplate(t, "Broken install", c.image, `echo "step one"
echo "the mirror is down" >&2
exit 3
`))
	id := c.deploy(t, n, name, dockertest.FreePort(t))

	in := c.waitInstance(t, id, "FAILED", func(in instance) bool { return in.InternalState != store.StateInstalling })
	if in.InternalState != store.StateFailed {
		t.Fatalf("instance = %s, want FAILED", in.describe())
	}
	for _, want := range []string{"install failed", "exited with code 3", "step one", "the mirror is down"} {
		if !strings.Contains(in.Error, want) {
			t.Errorf("error %q does not contain %q", in.Error, want)
		}
	}
	if list := dockertest.Containers(t, c.cli, id); len(list) != 0 {
		t.Errorf("failed install left %d container(s): %+v", len(list), list)
	}
	l := c.installLog(t, id)
	if l.Installing || l.Installed || !strings.Contains(l.Error, "exited with code 3") ||
		!slices.Contains(l.Lines, "the mirror is down") {
		t.Errorf("install log of the failed install = %+v", l)
	}
	// A failed instance is not tried again: it stays FAILED.
	c.waitPasses(t, n)
	if in := c.get(t, id); in.InternalState != store.StateFailed {
		t.Errorf("instance after more passes = %s, want FAILED", in.describe())
	}
}

// fromTestdata reads a template from testdata, replacing each {{KEY}} of
// values: the images are tagged by content hash, known only at test time.
func fromTestdata(t *testing.T, name string, values map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for k, v := range values {
		doc = strings.ReplaceAll(doc, "{{"+k+"}}", v)
	}
	return doc
}

func TestEggIsImportedAndDeployedInstallAndAllToARunningReadyInstance(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a")
	name := c.importTemplate(t, fromTestdata(t, "egg-install.json", map[string]string{
		"INSTALL_IMAGE": dockertest.BusyboxImage(t),
		// Eggs start through /bin/sh, as yolks images do.
		"GAME_IMAGE": dockertest.ShellGameServerImage(t),
	}))
	hostPort := dockertest.FreePort(t)
	id := c.deploy(t, n, name, hostPort)
	c.waitReadyAndRunning(t, id)

	expectDataFile(t, n, id, "worlds/name.txt", "egg-world\n")
	c.expectOnlyTheInstanceContainer(t, id)
	waitBanner(t, "tcp", hostPort)
	c.waitLogLine(t, id, "Server ready")
	if joined := strings.Join(c.installLog(t, id).Lines, "\n"); !strings.Contains(joined, "installing egg-world for port 25565") {
		t.Errorf("install log lacks the script's output:\n%s", joined)
	}
}

// waitLogLine polls the instance's console log until a line holds want.
func (c *cluster) waitLogLine(t *testing.T, id, want string) {
	t.Helper()
	poll(t, strconv.Quote(want)+" in the console log", func() (bool, string) {
		code, b := c.call(t, http.MethodGet, "/api/instances/logs/"+id, nil)
		var logs struct {
			Lines []string `json:"lines"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &logs) != nil {
			return false, string(b)
		}
		return slices.ContainsFunc(logs.Lines, func(l string) bool { return strings.Contains(l, want) }),
			strings.Join(logs.Lines, "\n")
	})
}

// filesServer is an https server on loopback with a few files, and the
// certificate pool that trusts it.
func filesServer(t *testing.T, files map[string]string) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func TestSkyportImageWithDownloadsIsImportedAndDeployedToARunningReadyInstance(t *testing.T) {
	t.Parallel()
	srv, pool := filesServer(t, map[string]string{"/maps/island.txt": "island map\n", "/readme.txt": "read me\n"})
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a", func(cfg *node.Config) {
		// The file server is on loopback, which only an operator's
		// permission opens to downloads.
		cfg.Install.AllowPrivateDownloads = true
		cfg.Install.RootCAs = pool
	})
	name := c.importTemplate(t, fromTestdata(t, "skyport-downloads.json", map[string]string{
		"GAME_IMAGE": c.image, "FILES_URL": srv.URL,
	}))
	hostPort := dockertest.FreePort(t)
	id := c.deploy(t, n, name, hostPort)
	c.waitReadyAndRunning(t, id)

	expectDataFile(t, n, id, "world/map.txt", "island map\n")
	expectDataFile(t, n, id, "readme.txt", "read me\n")
	waitBanner(t, "tcp", hostPort)
	c.waitLogLine(t, id, "Server ready")
	joined := strings.Join(c.installLog(t, id).Lines, "\n")
	if !strings.Contains(joined, "downloading "+srv.URL+"/maps/island.txt to world/map.txt") {
		t.Errorf("install log does not tell of the download:\n%s", joined)
	}
}

func TestSkyportDownloadFromLoopbackIsRefusedWithoutTheOperatorsPermission(t *testing.T) {
	t.Parallel()
	srv, pool := filesServer(t, map[string]string{"/maps/island.txt": "island map\n", "/readme.txt": "read me\n"})
	c := newCluster(t, 0)
	n := c.addNode(t, "node-a", func(cfg *node.Config) { cfg.Install.RootCAs = pool })
	name := c.importTemplate(t, fromTestdata(t, "skyport-downloads.json", map[string]string{
		"GAME_IMAGE": c.image, "FILES_URL": srv.URL,
	}))
	id := c.deploy(t, n, name, dockertest.FreePort(t))
	in := c.waitInstance(t, id, "FAILED", func(in instance) bool { return in.InternalState != store.StateInstalling })
	if in.InternalState != store.StateFailed || !strings.Contains(in.Error, "not a public address") {
		t.Errorf("instance = %s, want FAILED naming the refused address", in.describe())
	}
	if _, err := os.Stat(filepath.Join(n.dir, "volumes", id, "world", "map.txt")); err == nil {
		t.Error("the refused download was written")
	}
}

func TestInstallStillRunningAtTheInstallTimeoutFailsTheInstance(t *testing.T) {
	t.Parallel()
	const installTimeout = 3 * time.Second
	c := newCluster(t, installTimeout)
	n := c.addNode(t, "node-a")
	name := c.importTemplate(t, berthTemplate(t, "Slow install", c.image, "echo fetching forever\nsleep 600\n"))
	deployed := time.Now()
	id := c.deploy(t, n, name, dockertest.FreePort(t))
	c.waitInstance(t, id, "installing", func(in instance) bool { return in.Status == "installing" })

	in := c.waitInstance(t, id, "FAILED", func(in instance) bool { return in.InternalState != store.StateInstalling })
	if in.InternalState != store.StateFailed || !strings.Contains(in.Error, "install timed out") {
		t.Errorf("instance = %s, want FAILED by the install timeout", in.describe())
	}
	if waited := time.Since(deployed); waited < installTimeout {
		t.Errorf("failed after %s, before the install timeout of %s", waited, installTimeout)
	}
}
