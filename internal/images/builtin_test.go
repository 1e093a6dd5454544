package images

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/store"
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

func TestInstallBuiltinsAddsEachMissingOneOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// An operator's own template of the same name is left alone.
	mine, err := Save(ctx, st, Template{Name: "node.js APP", Image: "node:22"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := InstallBuiltins(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := st.ListTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	builtins, _ := Builtins()
	if len(rows) != len(builtins) {
		t.Fatalf("%d templates stored, want %d (the built-ins, one replaced by the operator's)", len(rows), len(builtins))
	}
	for _, row := range rows {
		tmpl, err := Decode(row.Doc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.EqualFold(row.Name, "node.js app") && (row.ID != mine.ID || tmpl.Image != "node:22") {
			t.Errorf("the operator's template was replaced: %+v", row)
		}
		if tmpl.ID != row.ID {
			t.Errorf("stored document of %s has Id %q, want %q", row.Name, tmpl.ID, row.ID)
		}
	}
}
