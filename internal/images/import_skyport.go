package images

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
)

// skyportMountPath is where Skyport's daemon mounts an instance's data,
// so where its images expect it.
const skyportMountPath = "/app/data"

// importSkyport converts a Skyport "Images v2" document. Fields Skyport
// itself ignores (Cmd, Meta, ConfigFile*) are ignored here too.
// StartedMessage, which Skyport never used, becomes a readiness pattern.
func importSkyport(top map[string]json.RawMessage) (Template, error) {
	t := Template{MountPath: skyportMountPath}
	var authorName, started string
	err := readStrings(top,
		stringInto{"Name", &t.Name}, stringInto{"Description", &t.Description}, stringInto{"Author", &t.Author},
		stringInto{"AuthorName", &authorName}, stringInto{"Image", &t.Image}, stringInto{"StopCommand", &t.StopCommand},
		stringInto{"StartedMessage", &started})
	if err != nil {
		return Template{}, err
	}
	if t.Author == "" {
		t.Author = authorName
	}
	if strings.TrimSpace(started) != "" {
		t.ReadyPatterns = []string{started}
	}
	t.Name = strings.TrimSpace(t.Name)
	t.Image = strings.TrimSpace(t.Image)
	if t.Image == "" {
		return Template{}, fault.InvalidField("Image", "is required")
	}
	if t.AltImages, err = stringsField(top, "AltImages", "AltImages"); err != nil {
		return Template{}, err
	}
	t.AltImages = alternatives(t.Image, t.AltImages)
	if t.Env, err = skyportEnv(top["Env"]); err != nil {
		return Template{}, err
	}
	if t.Features, err = stringsField(top, "features", "features"); err != nil {
		return Template{}, err
	}
	if t.Scripts.Install, err = skyportDownloads(top["Scripts"]); err != nil {
		return Template{}, err
	}
	if t.Variables, err = skyportVariables(top["Variables"]); err != nil {
		return Template{}, err
	}
	return t, nil
}

// alternatives trims the alternative images and drops empty ones, repeats,
// and the default image itself.
func alternatives(image string, alts []string) []string {
	out := []string{}
	for _, a := range alts {
		a = strings.TrimSpace(a)
		if a != "" && a != image && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// skyportEnv reads Env as Skyport writes it, an array of "KEY=VALUE", or
// as its forks do, an object of name to value (sorted by name here).
func skyportEnv(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return stringsField(map[string]json.RawMessage{"Env": raw}, "Env", "Env")
	}
	obj, err := objectField(raw, "Env")
	if err != nil {
		return nil, fault.InvalidField("Env", `must be an array of "KEY=VALUE" or an object of name to value`)
	}
	env := make([]string, 0, len(obj))
	for _, k := range sortedKeys(obj) {
		v, err := scalarField(obj, k, "Env."+k)
		if err != nil {
			return nil, err
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

// skyportDownloads reads Scripts.Install: [{Uri, Path}].
func skyportDownloads(raw json.RawMessage) ([]Download, error) {
	scripts, err := objectField(raw, "Scripts")
	if err != nil || isNull(scripts["Install"]) {
		return nil, err
	}
	var list []json.RawMessage
	if json.Unmarshal(scripts["Install"], &list) != nil {
		return nil, fault.InvalidField("Scripts.Install", "must be an array of {Uri, Path}")
	}
	out := make([]Download, 0, len(list))
	for i, item := range list {
		field := fmt.Sprintf("Scripts.Install[%d]", i)
		obj, err := objectField(item, field)
		if err != nil {
			return nil, err
		}
		var d Download
		if d.URI, err = stringField(obj, "Uri", field+".Uri"); err != nil {
			return nil, err
		}
		if d.Path, err = stringField(obj, "Path", field+".Path"); err != nil {
			return nil, err
		}
		d.URI = strings.TrimSpace(d.URI)
		// Skyport joins Path onto the volume folder, so "/server.jar" and
		// "./server.jar" both mean "server.jar".
		d.Path = strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(d.Path), "./"), "/")
		if err := checkDownload(field, d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// skyportVariables reads Variables: {NAME: {type, default, required,
// description}}. The name is both the environment variable and the
// {{NAME}} placeholder.
func skyportVariables(raw json.RawMessage) (map[string]Variable, error) {
	obj, err := objectField(raw, "Variables")
	if err != nil {
		return nil, err
	}
	out := make(map[string]Variable, len(obj))
	for _, name := range sortedKeys(obj) {
		field := "Variables." + name
		def, err := objectField(obj[name], field)
		if err != nil {
			return nil, err
		}
		var v Variable
		var typ string
		if typ, err = stringField(def, "type", field+".type"); err != nil {
			return nil, err
		}
		if v.Type, err = skyportType(typ, field+".type"); err != nil {
			return nil, err
		}
		if v.Default, err = scalarField(def, "default", field+".default"); err != nil {
			return nil, err
		}
		if v.Required, err = boolField(def, "required", field+".required", false); err != nil {
			return nil, err
		}
		if v.Description, err = stringField(def, "description", field+".description"); err != nil {
			return nil, err
		}
		if err := checkVariable(field, name, v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// skyportType maps Skyport's variable types, "text" being its only one in
// practice, onto Berth's.
func skyportType(typ, field string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "", "text", "string":
		return TypeString, nil
	case "integer", "int":
		return TypeInt, nil
	case "number":
		return TypeNumber, nil
	case "boolean", "bool":
		return TypeBool, nil
	}
	return "", fault.InvalidField(field, "unsupported %q (want text, integer, number or boolean)", truncate(typ))
}
