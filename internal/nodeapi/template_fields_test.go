package nodeapi

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestInstanceSpecValidatesTemplateFields covers the fields a template
// adds to a spec: readiness patterns, the install script and downloads.
func TestInstanceSpecValidatesTemplateFields(t *testing.T) {
	s := testSpec()
	s.ReadyPatterns = []string{"Done (", "regex:^Listening on [0-9]+$"}
	s.Install = &InstallSpec{Image: "debian:bookworm-slim", Entrypoint: "bash", Script: "echo hi"}
	s.Downloads = []Download{{URL: "https://example.com/a.jar", Path: "plugins/a.jar"}}
	if err := s.Validate(); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	for _, tc := range []struct {
		field  string
		mutate func(*InstanceSpec)
	}{
		{"readyPatterns[1]", func(s *InstanceSpec) { s.ReadyPatterns[1] = "regex:(" }},
		{"readyPatterns[0]", func(s *InstanceSpec) { s.ReadyPatterns[0] = "" }},
		{"install.image", func(s *InstanceSpec) { s.Install.Image = "a b" }},
		{"install.entrypoint", func(s *InstanceSpec) { s.Install.Entrypoint = "" }},
		{"install.script", func(s *InstanceSpec) { s.Install.Script = " \n" }},
		{"downloads[0].url", func(s *InstanceSpec) { s.Downloads[0].URL = "http://example.com/a.jar" }},
		{"downloads[0].url", func(s *InstanceSpec) { s.Downloads[0].URL = "https://user:pw@example.com/a" }},
		{"downloads[0].url", func(s *InstanceSpec) { s.Downloads[0].URL = "file:///etc/passwd" }},
		{"downloads[0].path", func(s *InstanceSpec) { s.Downloads[0].Path = "/etc/passwd" }},
		{"downloads[0].path", func(s *InstanceSpec) { s.Downloads[0].Path = "../x" }},
		{"downloads[0].path", func(s *InstanceSpec) { s.Downloads[0].Path = "a/../../x" }},
		{"downloads[0].path", func(s *InstanceSpec) { s.Downloads[0].Path = "." }},
		{"downloads[0].path", func(s *InstanceSpec) { s.Downloads[0].Path = `a\b` }},
		{"downloads[0].path", func(s *InstanceSpec) { s.Downloads[0].Path = "" }},
	} {
		s := testSpec()
		s.ReadyPatterns = []string{"ok", "regex:^ok$"}
		s.Install = &InstallSpec{Image: "alpine:3", Entrypoint: "ash", Script: "true"}
		s.Downloads = []Download{{URL: "https://example.com/a", Path: "a"}}
		tc.mutate(&s)
		var fe *FieldError
		if err := s.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: got %v, want a %s field error", tc.field, err, tc.field)
		}
	}
}

// TestInstanceSpecWithoutTemplateFieldsEncodesAsBefore checks that the new
// fields are omitted when unset, so a node that predates them reads the
// same spec.
func TestInstanceSpecWithoutTemplateFieldsEncodesAsBefore(t *testing.T) {
	raw, err := json.Marshal(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	for _, k := range []string{"readyPatterns", "install", "downloads"} {
		if _, ok := m[k]; ok {
			t.Errorf("an unset %s is encoded: %s", k, raw)
		}
	}
}
