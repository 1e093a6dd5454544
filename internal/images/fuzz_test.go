package images

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/fault"
)

// The fuzz targets feed documents to Import. Each is seeded with its own
// format's cases from testdata/import (and its corpus in testdata/fuzz).
// Whatever the input, Import must not panic, must reject with a
// fault.Invalid that names a field, and must return only templates that
// validate and survive being stored and imported again.

func FuzzImportSkyport(f *testing.F) { fuzzImport(f, "skyport-") }
func FuzzImportEgg(f *testing.F)     { fuzzImport(f, "egg-") }
func FuzzImportBerth(f *testing.F)   { fuzzImport(f, "berth-", "doc-") }

func fuzzImport(f *testing.F, prefixes ...string) {
	for _, p := range prefixes {
		files, _ := filepath.Glob(filepath.Join("testdata", "import", p+"*.json"))
		for _, file := range files {
			if strings.HasSuffix(file, ".golden.json") {
				continue
			}
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkImport(t, data)
	})
}

// FuzzEggRules fuzzes the Laravel rule reader with a rule string and a
// value deployed against it.
func FuzzEggRules(f *testing.F) {
	for _, seed := range [][3]string{
		{"required|string|max:20", "latest", "1.21"},
		{"nullable|integer|between:1,100", "", "50"},
		{"in:a,b,c", "a", "d"},
		{`regex:/^[a-z]+$/`, "abc", "ABC"},
		{`required|regex:/^(yes|no)$/i`, "yes", "No"},
		{"boolean", "0", "true"},
		{"numeric|min:0|max:1", "0.5", "2"},
		{`in:"a,b",c|size:3`, "a,b", "c"},
		{"digits_between:2,4|alpha_num", "12", "12345"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, rules, def, value string) {
		if !utf8.ValidString(def) {
			return // JSON cannot carry it; Marshal would change it
		}
		egg, _ := json.Marshal(map[string]any{
			"meta": map[string]string{"version": "PTDL_v2"}, "name": "Fuzz",
			"docker_images": map[string]string{"default": "alpine:3"},
			"variables":     []map[string]any{{"env_variable": "V", "default_value": def, "rules": rules}},
		})
		tmpl := checkImport(t, egg)
		if tmpl == nil {
			return
		}
		// A template that imported has a default its rules accept, so a
		// deploy that gives nothing passes unless the value is required.
		got, err := tmpl.CheckVariables(nil)
		if err != nil && !(tmpl.Variables["V"].Required && def == "") {
			t.Fatalf("the default %q breaks rules %q: %v", def, rules, err)
		}
		if err == nil && got["V"] != def {
			t.Fatalf("default not applied: %q, want %q", got["V"], def)
		}
		if _, err := tmpl.CheckVariables(map[string]string{"V": value}); err != nil {
			checkInvalid(t, err, "variables")
		}
	})
}

// checkImport imports data and checks the importer's promises; it returns
// the template, or nil when the document was rejected.
func checkImport(t *testing.T, data []byte) *Template {
	t.Helper()
	tmpl, _, err := ImportFormat(data)
	if err != nil {
		checkInvalid(t, err, "")
		return nil
	}
	if err := tmpl.Validate(); err != nil {
		t.Fatalf("Import returned a template that does not validate: %v", err)
	}
	checkRoundTrip(t, "fuzzed", tmpl)
	return &tmpl
}

// checkInvalid fails unless err is a fault.Invalid naming a field (field
// itself, when given).
func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Field == "" {
		t.Fatalf("error %v (%T) is not a fault.Invalid naming a field", err, err)
	}
	if field != "" && fe.Field != field {
		t.Fatalf("error %v names %q, want %q", err, fe.Field, field)
	}
	if !strings.HasPrefix(err.Error(), fe.Field+": ") {
		t.Fatalf("error %q does not start with its field %q", err, fe.Field)
	}
}
