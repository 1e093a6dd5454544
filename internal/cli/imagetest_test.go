package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/dockertest"
)

// testTemplateFile writes a Berth-format template into a new folder and
// returns its path; fields are added to the defaults, which run the test
// game server after an install script.
func testTemplateFile(t *testing.T, fields map[string]any) string {
	t.Helper()
	doc := map[string]any{
		"Format": "berth/v1", "Name": "Image test game", "Image": dockertest.GameServerImage(t),
		"StopCommand": "stop", "ReadyPatterns": []string{"Server ready"},
		"Scripts": map[string]any{"Installer": map[string]any{
			"Image": dockertest.BusyboxImage(t), "Entrypoint": "sh", "Script": "echo installed > /mnt/server/installed.txt\n"}},
	}
	for k, v := range fields {
		doc[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"template.json": string(b)})
	return filepath.Join(dir, "template.json")
}

// imageTest runs `berth image test` with args and returns its exit code
// and output. The test instance's containers, if any are left, are
// removed at the end.
func imageTest(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cli := dockertest.RequireDocker(t)
	var stdout, stderr bytes.Buffer
	code := Main(append([]string{"image", "test", "-data", t.TempDir()}, args...), &stdout, &stderr)
	out := stdout.String()
	if m := regexp.MustCompile(`deployed instance (\S+)`).FindStringSubmatch(out); m != nil {
		if left := dockertest.Containers(t, cli, m[1]); len(left) != 0 {
			t.Errorf("image test left %d container(s) of %s: %+v", len(left), m[1], left)
		}
		dockertest.Cleanup(t, cli, m[1])
	}
	t.Logf("berth image test %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, stderr.String())
	return code, out
}

// expectLines fails unless out contains each of want.
func expectLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestImageTestPassesForAGoodTemplateWithTimings(t *testing.T) {
	t.Parallel()
	code, out := imageTest(t, testTemplateFile(t, nil), "-timeout", "2m")
	if code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	expectLines(t, out, `Testing image template "Image test game" (berth/v1, read from`, "  install ", "(install script)",
		"  start to ready ", `a console line matched "Server ready"`, "  stop ", `"stop", exit code 0`, "\nPASS\n")
	if strings.Contains(out, "FAIL") {
		t.Errorf("a passing test says FAIL:\n%s", out)
	}
}

func TestImageTestPassesForAStoredTemplateNamedWithVariables(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	file := testTemplateFile(t, map[string]any{
		"Name":      "Stored game",
		"Variables": map[string]any{"GREETING": map[string]any{"default": "hi", "regex": "^[a-z]+$"}},
		"Scripts": map[string]any{"Installer": map[string]any{
			"Image": dockertest.BusyboxImage(t), "Entrypoint": "sh", "Script": `test "$GREETING" = hello`}},
	})
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"image", "import", "-data", data, file}, &stdout, &stderr); code != 0 {
		t.Fatalf("import: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	cli := dockertest.RequireDocker(t)
	stdout.Reset()
	code := Main([]string{"image", "test", "stored game", "-data", data, "-var", "GREETING=hello", "-timeout", "2m"}, &stdout, &stderr)
	if m := regexp.MustCompile(`deployed instance (\S+)`).FindStringSubmatch(stdout.String()); m != nil {
		dockertest.Cleanup(t, cli, m[1])
	}
	if code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s%s", code, stdout.String(), stderr.String())
	}
	expectLines(t, stdout.String(), `"Stored game" (stored as `, "PASS")
}

func TestImageTestFailsWithAReason(t *testing.T) {
	t.Parallel()
	// Missing images are on registries of the test's own, on loopback:
	// one the node may use, which the engine asks and which has nothing,
	// and one it may not, which nothing may ask.
	cli := dockertest.RequireDocker(t)
	empty, forbidden := dockertest.NewRegistry(t, cli), dockertest.NewRegistry(t, cli)
	missing, refused := empty.Image("berth-test/missing:1"), forbidden.Image("berth-test/refused:1")
	for _, tc := range []struct {
		name   string
		fields map[string]any
		args   []string
		want   []string
		// check, when set, runs once the test has failed.
		check func(t *testing.T)
	}{
		{"an image that does not exist", map[string]any{"Image": missing}, []string{"-allow-private-registries"},
			[]string{"FAIL: ", "FAILED", "image " + missing + " not found in any reachable registry"},
			func(t *testing.T) {
				if empty.Connections() == 0 {
					t.Error("the engine never asked the test's registry for the image")
				}
			}},
		{"an image on a registry the node may not use", map[string]any{"Image": refused}, nil,
			[]string{"FAIL: ", "FAILED", refused, "not a public address"},
			func(t *testing.T) {
				if n := forbidden.Connections(); n != 0 {
					t.Errorf("the engine made %d connections to the refused registry", n)
				}
			}},
		{"a ready pattern that never appears", map[string]any{"ReadyPatterns": []string{"never printed"}}, []string{"-timeout", "5s"},
			[]string{"FAIL: no ready within 5s", `"never printed"`, "last console output", "Server ready on port"}, nil},
		{"an install script that fails", map[string]any{"Scripts": map[string]any{"Installer": map[string]any{
			"Image": dockertest.BusyboxImage(t), "Entrypoint": "sh", "Script": "echo cannot fetch >&2\nexit 3\n"}}}, nil,
			[]string{"FAIL: the install failed: install script exited with code 3", "cannot fetch"}, nil},
		{"a server that ignores its stop command", map[string]any{"StopCommand": "quit-please"}, []string{"-stop-timeout", "1s"},
			[]string{"FAIL: the server did not stop within -stop-timeout 1s", `"quit-please"`}, nil},
		{"a variable that breaks its rule", map[string]any{"Variables": map[string]any{"SLOTS": map[string]any{"type": "int"}}},
			[]string{"-var", "SLOTS=many"}, []string{"FAIL: deploy was refused", "SLOTS"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{testTemplateFile(t, tc.fields), "-timeout", "2m"}, tc.args...)
			code, out := imageTest(t, args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			expectLines(t, out, tc.want...)
			if strings.Contains(out, "PASS") {
				t.Errorf("a failing test says PASS:\n%s", out)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
}

func TestImageTestNeedsOneKnownTemplate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"image", "test"}, &stdout, &stderr); code != 2 {
		t.Errorf("without a template: exit %d, want 2", code)
	}
	stderr.Reset()
	if code := Main([]string{"image", "test", "no such template", "-data", t.TempDir()}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "neither a template file nor") {
		t.Errorf("unknown template: exit %d, stderr %q; want 1 and the reason", code, stderr.String())
	}
	stderr.Reset()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bad.json": `{"meta": {"version": "PTDL_v2"}, "name": "Broken", "docker_images": 3}`})
	if code := Main([]string{"image", "test", filepath.Join(dir, "bad.json")}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "docker_images") {
		t.Errorf("malformed template: exit %d, stderr %q; want 1 naming the field", code, stderr.String())
	}
}
