package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

// update rewrites the golden files from what the importers produce now:
// go test ./internal/images -run TestImportGolden -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/import")

// golden is what a successful import is compared with.
type golden struct {
	Format   Format   `json:"format"`
	YAML     bool     `json:"yaml,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Template Template `json:"template"`
}

// importCases returns the documents of testdata/import: each
// <case>.json, .yaml or .yml but the golden files.
func importCases(t *testing.T) []string {
	t.Helper()
	var cases []string
	for _, ext := range []string{"json", "yaml", "yml"} {
		found, err := filepath.Glob(filepath.Join("testdata", "import", "*."+ext))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			if !strings.HasSuffix(f, ".golden.json") {
				cases = append(cases, f)
			}
		}
	}
	return cases
}

// TestImportGolden imports every testdata/import/<case>.json (or .yaml)
// and compares the result with <case>.golden.json, or the error with
// <case>.err.
func TestImportGolden(t *testing.T) {
	var n int
	for _, in := range importCases(t) {
		n++
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(in, filepath.Ext(in))
			r, err := ImportDocument(data)
			var got []byte
			var goldenFile, otherFile string
			if err != nil {
				if !fault.Is(err, fault.Invalid) {
					t.Errorf("error kind = %v, want fault.Invalid: %v", fault.KindOf(err), err)
				}
				got = []byte(err.Error() + "\n")
				goldenFile, otherFile = base+".err", base+".golden.json"
			} else {
				got, err = json.MarshalIndent(golden{r.Format, r.YAML, r.Warnings, r.Template}, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				goldenFile, otherFile = base+".golden.json", base+".err"
			}
			if *update {
				if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(otherFile)
				return
			}
			if _, err := os.Stat(otherFile); err == nil {
				t.Errorf("import gave %s, but the expected outcome is %s:\n%s", filepath.Base(goldenFile), filepath.Base(otherFile), got)
				return
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("no golden file (run with -update to create it): %v\ngot:\n%s", err, got)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", filepath.Base(goldenFile), got, want)
			}
		})
	}
	if n < 10 {
		t.Fatalf("found %d import cases, want the whole testdata/import suite", n)
	}
}

// TestImportedTemplatesRoundTrip checks that a template's stored document
// imports back to the same template, in Berth's format: GET /api/images
// output can be posted again.
func TestImportedTemplatesRoundTrip(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join("testdata", "import", "*.golden.json"))
	if len(cases) == 0 {
		t.Fatal("no golden templates")
	}
	for _, file := range cases {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		checkRoundTrip(t, file, g.Template)
	}
}

// checkRoundTrip fails unless tmpl, encoded as stored, imports as itself.
func checkRoundTrip(t *testing.T, what string, tmpl Template) {
	t.Helper()
	doc, err := Encode(tmpl)
	if err != nil {
		t.Fatalf("%s: encode: %v", what, err)
	}
	again, format, err := ImportFormat(doc)
	if err != nil {
		t.Fatalf("%s: the stored document does not import: %v\n%s", what, err, doc)
	}
	if format != FormatBerth {
		t.Errorf("%s: stored document imports as %s, want %s", what, format, FormatBerth)
	}
	if !reflect.DeepEqual(again, tmpl) {
		t.Errorf("%s: round trip changed the template\nbefore %+v\nafter  %+v", what, tmpl, again)
	}
}

func TestImportNamesTheFieldAtFault(t *testing.T) {
	for _, tc := range []struct {
		name, doc, field string
	}{
		{"egg version", `{"meta":{"version":"PTDL_v9"}}`, `meta.version: unsupported "PTDL_v9"`},
		{"egg images", `{"meta":{"version":"PTDL_v2"},"name":"x","docker_images":5}`, "docker_images: must be an object"},
		{"egg rules", `{"meta":{"version":"PLCN_v1"},"name":"x","docker_images":{"a":"alpine"},"variables":[{"env_variable":"A","rules":"max:x"}]}`, "variables[0].rules"},
		{"skyport env", `{"Name":"x","Image":"alpine","Env":true}`, "Env: "},
		{"skyport download", `{"Name":"x","Image":"alpine","Scripts":{"Install":[{"Uri":"ftp://x/y","Path":"y"}]}}`, "Scripts.Install[0].Uri"},
		{"berth type", `{"Format":"berth/v1","Name":"x","Image":"alpine","AltImages":"alpine:3"}`, "AltImages: must be an array"},
		{"berth variable", `{"Format":"berth/v1","Name":"x","Image":"alpine","Variables":{"A":{"type":"float"}}}`, "Variables.A.type"},
		{"too large", `{"Name":"` + strings.Repeat("x", MaxDocument) + `"}`, "document: must be at most"},
	} {
		_, err := Import([]byte(tc.doc))
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid {
			t.Errorf("%s: error = %v, want a fault.Invalid", tc.name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%s: error = %q, want it to start with %q", tc.name, err, tc.field)
		}
	}
}

func TestEggStartupPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		"java -Xmx{{SERVER_MEMORY}}M -jar x.jar":          "java -Xmx{{SERVER_MEMORY}}M -jar x.jar",
		"-port {{server.build.default.port}}":             "-port {{SERVER_PORT}}",
		"+ip {{ server.build.default.ip }}":               "+ip {{SERVER_IP}}",
		"-m {{server.build.memory}}":                      "-m {{SERVER_MEMORY}}",
		"{{env.MAP}} {{server.build.env.MAX}} {{OTHER}}":  "{{MAP}} {{MAX}} {{OTHER}}",
		"${SHELL_VAR} {{server.build.unknown}} {{ env }}": "${SHELL_VAR} {{server.build.unknown}} {{ env }}",
	} {
		if got := eggStartup(in); got != want {
			t.Errorf("eggStartup(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitRulesKeepsARegexWhole(t *testing.T) {
	for in, want := range map[string][]string{
		"required|string|max:20":              {"required", "string", "max:20"},
		"required|regex:/^(a|b|c)$/|max:1":    {"required", "regex:/^(a|b|c)$/", "max:1"},
		"regex:#^x|y$#i":                      {"regex:#^x|y$#i"},
		"nullable| regex:/(unclosed|x":        {"nullable", "regex:/(unclosed|x"},
		"in:a,b|regex:{^[a-z]+(\\|[0-9])?$}u": {"in:a,b", "regex:{^[a-z]+(\\|[0-9])?$}u"},
	} {
		if got := splitRules(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitRules(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPCREToGo(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "/^[a-z]+$/", want: "^[a-z]+$"},
		{in: "/^[a-z]+$/iu", want: "(?i)^[a-z]+$"},
		{in: "#^a/b$#ms", want: "(?ms)^a/b$"},
		{in: "{^x}", want: "^x"},
		{in: "/^(?=a)/", err: "cannot run on Go's regular expressions"},
		{in: "/a/x", err: "flag 'x' is not supported"},
		{in: "abc", err: "not a delimited regular expression"},
		{in: "/abc", err: "no closing delimiter"},
	} {
		got, err := pcreToGo(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("pcreToGo(%q) error = %v, want one containing %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("pcreToGo(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestEggStopFollowsWings(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		warns    bool
	}{
		{"stop", "stop", false},
		{"^C", "^SIGINT", false},
		{"^c", "^SIGINT", false},
		{"^SIGINT", "^SIGINT", false},
		{"^sigterm", "^SIGTERM", false},
		{"^SIGABRT", "^SIGABRT", false},
		{"^SIGKILL", "^SIGKILL", false},
		{"^^C", "^SIGKILL", true},
		{"^^^C", "^SIGKILL", true},
		{"^SIGHUP", "^SIGKILL", true},
		{"", "", false},
	} {
		var w warnings
		if got := eggStop(tc.in, &w); got != tc.want || (len(w) > 0) != tc.warns {
			t.Errorf("eggStop(%q) = %q with warnings %q; want %q, warning %v", tc.in, got, w, tc.want, tc.warns)
		}
	}
}

func TestYAMLKeepsTheOrderOfMappings(t *testing.T) {
	doc := "meta: {version: PLCN_v1}\nname: x\ndocker_images:\n  Z: 'zeta:1'\n  A: 'alpha:1'\n  M: 'mu:1'\n"
	r, err := ImportDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !r.YAML || r.Template.Image != "zeta:1" || !reflect.DeepEqual(r.Template.AltImages, []string{"alpha:1", "mu:1"}) {
		t.Errorf("YAML import = %+v, want zeta:1 first, then alpha:1 and mu:1", r)
	}
}

func TestYAMLAliasBombIsRefused(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		doc += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	if _, err := ImportDocument([]byte(doc)); err == nil || !fault.Is(err, fault.Invalid) {
		t.Errorf("a document of nested aliases was read: %v", err)
	}
}
