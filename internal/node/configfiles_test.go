package node

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

// replace is a ConfigReplace of a JSON value.
func replace(match, value string) nodeapi.ConfigReplace {
	return nodeapi.ConfigReplace{Match: match, Value: json.RawMessage(value)}
}

// TestStartRewritesConfigFilesFirst checks the config files of a spec on
// the fake runtime: an existing file is rewritten with the placeholders
// filled in, a missing one is created (folders too), and a broken one is
// left as it was and reported in the instance's error and on its
// console, without stopping the start.
func TestStartRewritesConfigFilesFirst(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("cfg-1")
	spec.Env["MOTD"] = "Berth"
	spec.ConfigFiles = []nodeapi.ConfigFile{
		{Path: "server.properties", Parser: "properties", Replace: []nodeapi.ConfigReplace{
			replace("server-port", `"{{server.build.default.port}}"`),
			replace("server-ip", `"{{server.build.default.ip}}"`),
			replace("motd", `"{{env.MOTD}} on {{SERVER_MEMORY}}"`),
		}},
		{Path: "plugins/proxy/config.yml", Parser: "yaml", Replace: []nodeapi.ConfigReplace{
			replace("listeners[0].host", `"{{config.docker.interface}}:{{server.build.default.port}}"`),
			replace("online_mode", `false`),
		}},
		{Path: "broken.json", Parser: "json", Replace: []nodeapi.ConfigReplace{replace("port", `"1"`)}},
		{Path: "absent.txt", Parser: "file", Replace: []nodeapi.ConfigReplace{replace("a", `"b"`)}},
	}
	spec.Env["SERVER_MEMORY"] = "512"
	dir := d.volumes.Path(spec.ID)
	mustWriteFile(t, filepath.Join(dir, "server.properties"), "# kept\nserver-port=25565\nserver-ip=\nmotd=old\n")
	mustWriteFile(t, filepath.Join(dir, "broken.json"), `{"port": `)

	st := ensureOK(t, d, spec)
	if st.Status != nodeapi.StatusRunning {
		t.Fatalf("status = %+v, want running despite the broken file", st)
	}
	wantFile(t, filepath.Join(dir, "server.properties"), "# kept\nserver-port=25565\nserver-ip=0.0.0.0\nmotd=Berth on 512\n")
	wantFile(t, filepath.Join(dir, "plugins/proxy/config.yml"), "listeners:\n- host: 0.0.0.0:25565\nonline_mode: false\n")
	wantFile(t, filepath.Join(dir, "broken.json"), `{"port": `)
	if _, err := os.Stat(filepath.Join(dir, "absent.txt")); !os.IsNotExist(err) {
		t.Errorf("the file parser created a missing file: %v", err)
	}
	if !strings.Contains(st.Error, "config file broken.json (json): not valid JSON") {
		t.Errorf("status error = %q, want the broken file named", st.Error)
	}
	s := d.sups.lookup(spec.ID)
	c, replay, _, err := s.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(c)
	if !slices.ContainsFunc(replay, func(l string) bool { return strings.Contains(l, "broken.json") }) {
		t.Errorf("console replay %q does not tell of the broken file", replay)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".berth-tmp-") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
	}

	// Fixed, the next start rewrites it and the error goes.
	mustWriteFile(t, filepath.Join(dir, "broken.json"), `{"port": 2, "name": "x"}`)
	if w := power(t, d, spec.ID, nodeapi.ActionRestart); w.Code != http.StatusOK {
		t.Fatalf("restart: %d %s", w.Code, w.Body)
	}
	wantFile(t, filepath.Join(dir, "broken.json"), "{\"port\":1,\"name\":\"x\"}\n")
	if st := getStatus(t, d, spec.ID); st.Error != "" {
		t.Errorf("status error after the fix = %q", st.Error)
	}
}

// TestBashStartupNeedsBashInTheImage checks that a startup line in bash
// runs in bash, and that an image without bash is refused with a message
// that says why.
func TestBashStartupNeedsBashInTheImage(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("bash-1")
	spec.Startup = `if [[ -f server.jar ]]; then java -jar server.jar; fi`
	ensureOK(t, d, spec)
	c, _ := rt.Container(spec.ID)
	if c.Spec.Cmd[0] != runtime.Bash {
		t.Errorf("cmd = %q, want it run by %s", c.Spec.Cmd, runtime.Bash)
	}

	spec = validSpec("bash-2")
	spec.Image = "example/alpine:1"
	spec.Startup = `source ./env.sh && ./srv`
	rt.RemoveFile(spec.Image, runtime.Bash)
	w := call(t, d, http.MethodPut, "/v1/instances/"+spec.ID, spec)
	if w.Code == http.StatusOK {
		t.Fatalf("PUT of a bash line for an image without bash: %d %s", w.Code, w.Body)
	}
	msg := errorText(t, w)
	if !strings.Contains(msg, "bash syntax (source") || !strings.Contains(msg, "example/alpine:1 has no /bin/bash") {
		t.Errorf("message %q does not say what is wrong", msg)
	}
	if st := getStatus(t, d, spec.ID); st.Running || !strings.Contains(st.Error, "has no /bin/bash") {
		t.Errorf("status = %+v, want not running, with the reason", st)
	}
}

// TestFileAPIRefusesTheSpecsDenylist checks the node's file API with a
// spec's denylist: 403 with a message that names the pattern.
func TestFileAPIRefusesTheSpecsDenylist(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("deny-1")
	spec.FileDenylist = []string{"*.jar", "!plugins/*.jar"}
	ensureOK(t, d, spec)
	dir := d.volumes.Path(spec.ID)
	mustWriteFile(t, filepath.Join(dir, "server.jar"), "jar")
	mustWriteFile(t, filepath.Join(dir, "plugins/x.jar"), "plugin")

	w := call(t, d, http.MethodGet, "/v1/instances/deny-1/files/content?path=server.jar", nil)
	if w.Code != http.StatusForbidden || !strings.Contains(errorText(t, w), `file denylist ("*.jar")`) {
		t.Errorf("read of a denied file: %d %s", w.Code, w.Body)
	}
	w = call(t, d, http.MethodPost, "/v1/instances/deny-1/files/delete", nodeapi.DeleteRequest{Paths: []string{"server.jar"}})
	if w.Code != http.StatusForbidden {
		t.Errorf("delete of a denied file: %d %s", w.Code, w.Body)
	}
	w = call(t, d, http.MethodGet, "/v1/instances/deny-1/files/content?path=plugins/x.jar", nil)
	if w.Code != http.StatusOK {
		t.Errorf("read of a file the denylist allows again: %d %s", w.Code, w.Body)
	}
	wantFile(t, filepath.Join(dir, "server.jar"), "jar")
}

func mustWriteFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, name, want string) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s =\n%q\nwant\n%q", filepath.Base(name), got, want)
	}
}
