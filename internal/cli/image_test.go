package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/store"
)

// writeFiles writes name -> content into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// storedTemplates lists the names of the templates in the data folder.
func storedTemplates(t *testing.T, data string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), "", data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	list, err := st.ListTemplates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, row := range list {
		names = append(names, row.Name)
	}
	return names
}

func TestImageImportReportsEachFileAndFailsIfAnyDid(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a-skyport.json": `{"Name": "Sky", "Image": "alpine:3", "StopCommand": "stop"}`,
		"b-egg.json": `{"meta": {"version": "PLCN_v1"}, "name": "Egg", "docker_images": {"Default": "alpine:3"},
			"startup": "./run", "variables": [{"env_variable": "A", "default_value": "x", "rules": "required|string"}]}`,
		"c-broken.json": `{"meta": {"version": "PTDL_v2"}, "name": "Broken", "docker_images": 3}`,
		"d-pelican.yaml": "meta:\n  version: PLCN_v3\nname: Yam\ndocker_images:\n  Default: 'alpine:3'\n" +
			"config:\n  stop: '^^C'\nvariables:\n  - {env_variable: A, default_value: x, rules: [required, email]}\n",
		"notes.txt": "not a template",
	})
	var stdout, stderr bytes.Buffer
	// Flags may come after the folder.
	code := Main([]string{"image", "import", dir, "-data", data}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (one file failed); stderr: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"a-skyport.json: imported Sky (skyport)",
		"b-egg.json: imported Egg (PLCN_v1)",
		"c-broken.json: docker_images: must be an object",
		"d-pelican.yaml: imported Yam (PLCN_v3, YAML)",
		`d-pelican.yaml: warning: config.stop: "^^C" is no signal Wings knows`,
		"d-pelican.yaml: warning: variables[0].rules: email: left out",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "notes.txt") {
		t.Errorf("a non-.json file was read:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "1 of 4 file(s) failed") {
		t.Errorf("stderr = %q, want the count of failures", stderr.String())
	}
	if got := storedTemplates(t, data); strings.Join(got, ",") != "Egg,Sky,Yam" {
		t.Errorf("stored templates = %q, want Egg, Sky and Yam only", got)
	}
}

func TestImageImportOfOneFileSucceedsOnceThenConflicts(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"own.json": `{"Format": "berth/v1", "Name": "Own", "Image": "busybox"}`})
	file := filepath.Join(dir, "own.json")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"image", "import", "-data", data, file}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "imported Own (berth/v1)") {
		t.Errorf("output = %q", stdout.String())
	}
	stdout.Reset()
	if code := Main([]string{"image", "import", "-data", data, file}, &stdout, &stderr); code != 1 {
		t.Errorf("second import: exit code %d, want 1", code)
	}
	if !strings.Contains(stdout.String(), "already exists") || !strings.Contains(stdout.String(), "replace") {
		t.Errorf("second import output = %q, want the name conflict and the way out", stdout.String())
	}
	stdout.Reset()
	writeFiles(t, dir, map[string]string{"own.json": `{"Format": "berth/v1", "Name": "Own", "Image": "busybox:1.37"}`})
	if code := Main([]string{"image", "import", "-replace", "-data", data, file}, &stdout, &stderr); code != 0 {
		t.Fatalf("import -replace: exit code %d: %s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "replaced Own (berth/v1)") {
		t.Errorf("import -replace output = %q", stdout.String())
	}
	if got := storedTemplates(t, data); len(got) != 1 {
		t.Errorf("stored templates after -replace = %q, want Own once", got)
	}
}

func TestImageImportNeedsAFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"image", "import", "-data", t.TempDir()}, &stdout, &stderr); code != 2 {
		t.Errorf("exit code %d without a file, want 2 (usage)", code)
	}
	if code := Main([]string{"image", "list"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d for an unknown subcommand, want 1", code)
	}
	if code := Main([]string{"image", "import", filepath.Join(t.TempDir(), "missing.json"), "-data", t.TempDir()}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d for a missing file, want 1", code)
	}
}

func TestPanelInstallsTheBuiltinTemplatesOnFirstStart(t *testing.T) {
	data := t.TempDir()
	for range 2 {
		p, err := openPanel(context.Background(), config.Panel{Data: data}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.close()
	}
	got := storedTemplates(t, data)
	want := []string{"Minecraft Bedrock", "Minecraft Java (Paper)", "Node.js app", "Python app", "Team Fortress 2 (SteamCMD)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("templates after two starts = %q, want %q", got, want)
	}
}
