package images

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

func ptr[T any](v T) *T { return &v }

// ruleTemplate has one variable of each kind of rule.
var ruleTemplate = Template{
	Name: "Rules", Image: "alpine:3",
	Variables: map[string]Variable{
		"EULA":    {Required: true, OneOf: []string{"true"}},
		"NAME":    {Default: "Berth", Min: ptr[int64](2), Max: ptr[int64](8)},
		"SLOTS":   {Default: "10", Type: TypeInt, Min: ptr[int64](1), Max: ptr[int64](64)},
		"RATE":    {Default: "", Type: TypeNumber, Min: ptr[int64](0), Max: ptr[int64](2)},
		"PVP":     {Default: "true", Type: TypeBool},
		"LEVEL":   {Default: "world", Regex: `^[a-z_]+$`},
		"MODE":    {Default: "survival", OneOf: []string{"survival", "creative"}},
		"LICENSE": {Default: "community", UserEditable: ptr(false)},
		"MOTD":    {},
	},
}

func TestCheckVariablesAppliesDefaults(t *testing.T) {
	given := map[string]string{"EULA": "true"}
	got, err := ruleTemplate.CheckVariables(given)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"EULA": "true", "NAME": "Berth", "SLOTS": "10", "RATE": "", "PVP": "true",
		"LEVEL": "world", "MODE": "survival", "LICENSE": "community", "MOTD": ""}
	if !maps.Equal(got, want) {
		t.Errorf("CheckVariables = %v, want %v", got, want)
	}
	if len(given) != 1 {
		t.Errorf("CheckVariables changed its argument: %v", given)
	}
}

func TestCheckVariablesRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		given map[string]string
		err   string // "" for accepted
	}{
		{"required missing", map[string]string{}, "EULA: is required"},
		{"required empty", map[string]string{"EULA": ""}, "EULA: is required"},
		{"one-of miss", map[string]string{"EULA": "yes"}, "EULA: must be one of true"},
		{"one-of exact", map[string]string{"EULA": "true", "MODE": "creative"}, ""},
		{"one-of case", map[string]string{"EULA": "true", "MODE": "Creative"}, "MODE: must be one of survival, creative"},
		{"string min", map[string]string{"EULA": "true", "NAME": "B"}, "NAME: must be at least 2 characters"},
		{"string max", map[string]string{"EULA": "true", "NAME": "Berthberth"}, "NAME: must be at most 8 characters"},
		{"string max counts characters", map[string]string{"EULA": "true", "NAME": "ÜÜÜÜÜÜÜÜ"}, ""},
		{"string empty skips min", map[string]string{"EULA": "true", "NAME": ""}, ""},
		{"int", map[string]string{"EULA": "true", "SLOTS": "64"}, ""},
		{"int negative", map[string]string{"EULA": "true", "SLOTS": "-1"}, "SLOTS: must be at least 1"},
		{"int too big", map[string]string{"EULA": "true", "SLOTS": "65"}, "SLOTS: must be at most 64"},
		{"int not a number", map[string]string{"EULA": "true", "SLOTS": "ten"}, "SLOTS: must be a whole number"},
		{"int decimal", map[string]string{"EULA": "true", "SLOTS": "1.5"}, "SLOTS: must be a whole number"},
		{"int overflow", map[string]string{"EULA": "true", "SLOTS": "99999999999999999999"}, "SLOTS: must be a whole number"},
		{"number", map[string]string{"EULA": "true", "RATE": "1.25"}, ""},
		{"number range", map[string]string{"EULA": "true", "RATE": "2.5"}, "RATE: must be at most 2"},
		{"number hex", map[string]string{"EULA": "true", "RATE": "0x1p0"}, "RATE: must be a number"},
		{"number nan", map[string]string{"EULA": "true", "RATE": "NaN"}, "RATE: must be a number"},
		{"bool 0", map[string]string{"EULA": "true", "PVP": "0"}, ""},
		{"bool FALSE", map[string]string{"EULA": "true", "PVP": "FALSE"}, ""},
		{"bool yes", map[string]string{"EULA": "true", "PVP": "yes"}, "PVP: must be true, false, 1 or 0"},
		{"regex", map[string]string{"EULA": "true", "LEVEL": "nether_2"}, "LEVEL: must match ^[a-z_]+$"},
		{"not editable", map[string]string{"EULA": "true", "LICENSE": "pro"}, "LICENSE: is not editable"},
		{"not editable repeats default", map[string]string{"EULA": "true", "LICENSE": "community"}, ""},
		{"unknown", map[string]string{"EULA": "true", "LD_PRELOAD": "/x.so"}, "LD_PRELOAD: is not a variable of image Rules"},
		{"free text", map[string]string{"EULA": "true", "MOTD": "anything; at all"}, ""},
	} {
		_, err := ruleTemplate.CheckVariables(tc.given)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.err != "" && err == nil:
			t.Errorf("%s: accepted, want %q", tc.name, tc.err)
		case tc.err != "":
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Field != "variables" {
				t.Errorf("%s: error %v is not an invalid-field error on variables", tc.name, err)
			}
			if want := "variables: " + tc.err; err.Error() != want {
				t.Errorf("%s: error %q, want %q", tc.name, err, want)
			}
		}
	}
}

func TestCheckVariablesOfATemplateWithoutVariables(t *testing.T) {
	tmpl := Template{Name: "Bare", Image: "alpine:3"}
	if got, err := tmpl.CheckVariables(nil); err != nil || len(got) != 0 {
		t.Errorf("CheckVariables(nil) = %v, %v; want empty", got, err)
	}
	if _, err := tmpl.CheckVariables(map[string]string{"X": "1"}); err == nil || !strings.Contains(err.Error(), "X") {
		t.Errorf("an unknown variable was accepted: %v", err)
	}
}

func TestRenderAndPlaceholders(t *testing.T) {
	vars := Placeholders(map[string]string{"JAR": "paper.jar"}, 2048, 25565)
	got := Render("java -Xmx{{SERVER_MEMORY}}M -jar {{ JAR }} --port {{SERVER_PORT}} --host {{SERVER_IP}} {{TYPO}} {{unclosed", vars)
	want := "java -Xmx2048M -jar paper.jar --port 25565 --host 0.0.0.0 {{TYPO}} {{unclosed"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

func TestRenderDownloadsRechecksTheURL(t *testing.T) {
	tmpl := Template{Scripts: Scripts{Install: []Download{{URI: "https://example.com/{{V}}/server.jar", Path: "server.jar"}}}}
	got, err := tmpl.RenderDownloads(map[string]string{"V": "1.21"})
	if err != nil || len(got) != 1 || got[0].URI != "https://example.com/1.21/server.jar" {
		t.Errorf("RenderDownloads = %v, %v", got, err)
	}
	for _, v := range []string{"x y", "1\n2", "@evil.example/x"} {
		tmpl.Scripts.Install[0].URI = "https://{{V}}example.com/a"
		if _, err := tmpl.RenderDownloads(map[string]string{"V": v}); err == nil {
			t.Errorf("value %q: RenderDownloads accepted a broken URL", v)
		}
	}
}

func TestAllowsImage(t *testing.T) {
	tmpl := Template{Image: "a:1", AltImages: []string{"a:2"}}
	for ref, want := range map[string]bool{"a:1": true, "a:2": true, "a:3": false, "": false} {
		if got := tmpl.AllowsImage(ref); got != want {
			t.Errorf("AllowsImage(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestCheckChangeRefusesLockedNamesAndKeepsTheRest(t *testing.T) {
	// An admin set LICENSE beyond what a user may, and SLOTS beyond its
	// present range: the user's change of MOTD leaves both as they are.
	current := map[string]string{"EULA": "true", "LICENSE": "pro", "SLOTS": "100", "MOTD": "old"}
	got, err := ruleTemplate.CheckChange(current, map[string]string{"MOTD": "new"})
	if err != nil {
		t.Fatalf("an editable change beside a locked non-default value: %v", err)
	}
	want := map[string]string{"EULA": "true", "LICENSE": "pro", "SLOTS": "100", "MOTD": "new"}
	if !maps.Equal(got, want) || current["MOTD"] != "old" {
		t.Errorf("CheckChange = %v (current now %v), want %v and current untouched", got, current, want)
	}
	for _, tc := range []struct {
		name    string
		changes map[string]string
		err     string
	}{
		{"locked, its default", map[string]string{"LICENSE": "community"}, "LICENSE: is not editable"},
		{"locked, its current value", map[string]string{"LICENSE": "pro", "MOTD": "x"}, "LICENSE: is not editable"},
		{"locked, another value", map[string]string{"LICENSE": "enterprise"}, "LICENSE: is not editable"},
		{"editable, against its rules", map[string]string{"SLOTS": "65"}, "SLOTS: must be at most 64"},
		{"required emptied", map[string]string{"EULA": ""}, "EULA: is required"},
		{"unknown", map[string]string{"LD_PRELOAD": "/x.so"}, "LD_PRELOAD: is not a variable of image Rules"},
	} {
		_, err := ruleTemplate.CheckChange(current, tc.changes)
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Field != "variables" || err.Error() != "variables: "+tc.err {
			t.Errorf("%s: %v, want invalid variables: %s", tc.name, err, tc.err)
		}
	}
	if got, err := ruleTemplate.CheckChange(nil, map[string]string{"SLOTS": "64"}); err != nil || !maps.Equal(got, map[string]string{"SLOTS": "64"}) {
		t.Errorf("no current values: %v, %v", got, err)
	}
}

func TestCheckValueOfLaravelBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Variable
		val  string
		want string
	}{
		{"gt int", Variable{Type: TypeInt, Min: ptr[int64](0), MinExclusive: true}, "0", "must be more than 0"},
		{"gt int passes", Variable{Type: TypeInt, Min: ptr[int64](0), MinExclusive: true}, "1", ""},
		{"gt number", Variable{Type: TypeNumber, Min: ptr[int64](0), MinExclusive: true}, "0.01", ""},
		{"lt string", Variable{Max: ptr[int64](3), MaxExclusive: true}, "abc", "must be less than 3 characters"},
		{"lt string passes", Variable{Max: ptr[int64](3), MaxExclusive: true}, "ab", ""},
		{"not in", Variable{NotOneOf: []string{"admin", "root"}}, "root", "must not be admin, root"},
		{"not in numeric", Variable{NotOneOf: []string{"0"}}, "0.0", "must not be 0"},
		{"in numeric", Variable{OneOf: []string{"10", "20"}}, "20.0", ""},
		{"in text", Variable{OneOf: []string{"", "Moon", "Mars"}}, "moon", "must be one of , Moon, Mars"},
	} {
		if got := checkValue(tc.v, tc.val); got != tc.want {
			t.Errorf("%s: checkValue(%q) = %q, want %q", tc.name, tc.val, got, tc.want)
		}
	}
}

func TestDeploySuppliesALockedRequiredVariable(t *testing.T) {
	tmpl := Template{Name: "Licensed", Image: "alpine:3", Variables: map[string]Variable{
		"KEY": {Required: true, UserEditable: ptr(false)},
	}}
	if _, err := tmpl.CheckVariables(nil); err == nil || err.Error() != "variables: KEY: is required" {
		t.Errorf("deploy without the key: %v, want variables: KEY: is required", err)
	}
	got, err := tmpl.CheckVariables(map[string]string{"KEY": "abc"})
	if err != nil || got["KEY"] != "abc" {
		t.Errorf("deploy with the key: %v, %v", got, err)
	}
	if _, err := tmpl.CheckChange(got, map[string]string{"KEY": "other"}); err == nil {
		t.Error("a user changed a locked variable")
	}
}

func TestWithDefaultsFillsOnlyMissingVariables(t *testing.T) {
	tmpl := Template{Variables: map[string]Variable{"A": {Default: "a"}, "B": {Default: "b"}}}
	got := tmpl.WithDefaults(map[string]string{"A": "mine", "OLD": "kept"})
	want := map[string]string{"A": "mine", "B": "b", "OLD": "kept"}
	if !maps.Equal(got, want) {
		t.Errorf("WithDefaults = %v, want %v", got, want)
	}
}
