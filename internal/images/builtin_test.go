package images

import (
	"slices"
	"strings"
	"testing"
)

func TestBuiltinsAreValidAndComplete(t *testing.T) {
	list, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tmpl := range list {
		names = append(names, tmpl.Name)
		if err := tmpl.Validate(); err != nil {
			t.Errorf("%s: %v", tmpl.Name, err)
		}
		if tmpl.Scripts.Installer == nil {
			t.Errorf("%s has no install script", tmpl.Name)
		}
		if tmpl.Startup == "" || tmpl.StopCommand == "" {
			t.Errorf("%s: Startup %q, StopCommand %q; want both", tmpl.Name, tmpl.Startup, tmpl.StopCommand)
		}
		// Every placeholder in Startup is a variable or a built-in.
		vars := map[string]string{}
		for name := range tmpl.Variables {
			vars[name] = "x"
		}
		if rendered := Render(tmpl.Startup, Placeholders(vars, 1024, 25565)); strings.Contains(rendered, "{{") {
			t.Errorf("%s: Startup has an undeclared placeholder: %s", tmpl.Name, rendered)
		}
		checkRoundTrip(t, tmpl.Name, tmpl)
	}
	want := []string{"Minecraft Bedrock", "Minecraft Java (Paper)", "Node.js app", "Python app", "Team Fortress 2 (SteamCMD)"}
	if !slices.Equal(names, want) {
		t.Errorf("built-in templates = %q, want %q", names, want)
	}
}
