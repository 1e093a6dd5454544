package images

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
)

// Defaults of an egg's install script, as Pterodactyl applies them when an
// egg names no container or entrypoint.
const (
	eggInstallImage      = "alpine:3"
	eggInstallEntrypoint = "ash"
)

// importEgg converts a Pterodactyl (PTDL_v1, PTDL_v2) or Pelican (PLCN_v1)
// egg. What Berth has no equivalent for is left out: config.files (Berth
// does not rewrite config files), config.logs, file_denylist, and the
// inheritance fields (config.extends, copy_script_from).
func importEgg(top map[string]json.RawMessage, format Format) (Template, error) {
	t := Template{MountPath: DefaultMountPath}
	var startup string
	err := readStrings(top, stringInto{"name", &t.Name}, stringInto{"author", &t.Author},
		stringInto{"description", &t.Description}, stringInto{"startup", &startup})
	if err != nil {
		return Template{}, err
	}
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" {
		return Template{}, fault.InvalidField("name", "is required")
	}
	t.Description = strings.ReplaceAll(t.Description, "\r\n", "\n")
	if err := checkStartup("startup", startup); err != nil {
		return Template{}, err
	}
	t.Startup = eggStartup(startup)
	if t.Image, t.AltImages, err = eggImages(top, format); err != nil {
		return Template{}, err
	}
	if t.Features, err = stringsField(top, "features", "features"); err != nil {
		return Template{}, err
	}
	if t.StopCommand, t.ReadyPatterns, err = eggConfig(top["config"]); err != nil {
		return Template{}, err
	}
	if t.ConfigFiles, t.FileDenylist, err = eggExtras(top); err != nil {
		return Template{}, err
	}
	if t.Scripts.Installer, err = eggInstaller(top["scripts"]); err != nil {
		return Template{}, err
	}
	if t.Variables, err = eggVariables(top["variables"]); err != nil {
		return Template{}, err
	}
	return t, nil
}

// eggImages reads the Docker images: PTDL_v2 and PLCN_v1 have a
// docker_images object of label to image, whose first entry is the
// default; PTDL_v1 has an images array, or a single image.
func eggImages(top map[string]json.RawMessage, format Format) (string, []string, error) {
	var refs []string
	switch raw, ok := top["docker_images"]; {
	case ok:
		members, err := orderedObject(raw, "docker_images")
		if err != nil {
			return "", nil, err
		}
		for _, m := range members {
			field := fmt.Sprintf("docker_images[%q]", m.key)
			var ref string
			if json.Unmarshal(m.value, &ref) != nil {
				return "", nil, fault.InvalidField(field, "must be a string")
			}
			refs = append(refs, strings.TrimSpace(ref))
			if err := checkImageRef(field, refs[len(refs)-1]); err != nil {
				return "", nil, err
			}
		}
		if len(refs) == 0 {
			return "", nil, fault.InvalidField("docker_images", "must name at least one image")
		}
	case format != FormatPTDLv1:
		return "", nil, fault.InvalidField("docker_images", "is required")
	default:
		list, err := stringsField(top, "images", "images")
		if err != nil {
			return "", nil, err
		}
		if len(list) == 0 {
			single, err := stringField(top, "image", "image")
			if err != nil {
				return "", nil, err
			}
			if single == "" {
				return "", nil, fault.InvalidField("images", "is required")
			}
			list = []string{single}
		}
		for i, ref := range list {
			refs = append(refs, strings.TrimSpace(ref))
			if err := checkImageRef(fmt.Sprintf("images[%d]", i), refs[i]); err != nil {
				return "", nil, err
			}
		}
	}
	return refs[0], alternatives(refs[0], refs[1:]), nil
}

// eggPlaceholder matches the panel-side placeholders of older eggs:
// {{server.build.memory}}, {{server.build.default.port}},
// {{server.build.default.ip}} and {{server.build.env.NAME}} or {{env.NAME}}.
var eggPlaceholder = regexp.MustCompile(`\{\{\s*(server\.build\.memory|server\.build\.default\.port|server\.build\.default\.ip|(?:server\.build\.)?env\.([A-Za-z_][A-Za-z0-9_]*))\s*\}\}`)

// eggStartup converts an egg's startup command. {{SERVER_MEMORY}},
// {{SERVER_PORT}} and {{SERVER_IP}} are Berth built-ins with the same
// meaning, so they stay; the older dotted spellings become them, and
// {{env.NAME}} becomes {{NAME}}.
func eggStartup(s string) string {
	return eggPlaceholder.ReplaceAllStringFunc(s, func(m string) string {
		sub := eggPlaceholder.FindStringSubmatch(m)
		switch sub[1] {
		case "server.build.memory":
			return "{{" + PlaceholderMemory + "}}"
		case "server.build.default.port":
			return "{{" + PlaceholderPort + "}}"
		case "server.build.default.ip":
			return "{{" + PlaceholderIP + "}}"
		}
		return "{{" + sub[2] + "}}"
	})
}

// eggConfig reads config.stop and config.startup's "done" patterns.
// config.startup is a JSON object written as a string in Pterodactyl's
// exports; an object is read too.
func eggConfig(raw json.RawMessage) (stop string, ready []string, err error) {
	config, err := objectField(raw, "config")
	if err != nil {
		return "", nil, err
	}
	if stop, err = stringField(config, "stop", "config.stop"); err != nil {
		return "", nil, err
	}
	stop = strings.TrimSpace(stop)
	if stop == "^C" || stop == "^c" {
		stop = "^SIGINT"
	}
	if err := checkStop("config.stop", stop); err != nil {
		return "", nil, err
	}
	startup, err := embeddedObject(config["startup"], "config.startup")
	if err != nil {
		return "", nil, err
	}
	done := startup["done"]
	var one string
	if json.Unmarshal(done, &one) == nil {
		ready = []string{one}
	} else if ready, err = stringsField(startup, "done", "config.startup.done"); err != nil {
		return "", nil, fault.InvalidField("config.startup.done", "must be a string or an array of strings")
	}
	out := []string{}
	for _, p := range ready {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	if err := checkPatterns("config.startup.done", out); err != nil {
		return "", nil, err
	}
	return stop, out, nil
}

// embeddedObject reads an object that may be written as a JSON string
// holding it, as eggs write their config sections.
func embeddedObject(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return map[string]json.RawMessage{}, nil
		}
		raw = json.RawMessage(s)
	}
	obj, err := objectField(raw, field)
	if err != nil {
		return nil, fault.InvalidField(field, "must be an object, or a string holding a JSON object")
	}
	return obj, nil
}

// eggInstaller reads scripts.installation {container, entrypoint, script};
// an egg with an empty script has no install step.
func eggInstaller(raw json.RawMessage) (*InstallScript, error) {
	scripts, err := objectField(raw, "scripts")
	if err != nil {
		return nil, err
	}
	inst, err := objectField(scripts["installation"], "scripts.installation")
	if err != nil {
		return nil, err
	}
	var s InstallScript
	if s.Script, err = stringField(inst, "script", "scripts.installation.script"); err != nil {
		return nil, err
	}
	if s.Image, err = stringField(inst, "container", "scripts.installation.container"); err != nil {
		return nil, err
	}
	if s.Entrypoint, err = stringField(inst, "entrypoint", "scripts.installation.entrypoint"); err != nil {
		return nil, err
	}
	// Exports made on Windows carry CRLF, which a shell reads as part of
	// each command.
	s.Script = strings.ReplaceAll(s.Script, "\r\n", "\n")
	if strings.TrimSpace(s.Script) == "" {
		return nil, nil
	}
	s.Image, s.Entrypoint = strings.TrimSpace(s.Image), strings.TrimSpace(s.Entrypoint)
	if s.Image == "" {
		s.Image = eggInstallImage
	}
	if s.Entrypoint == "" {
		s.Entrypoint = eggInstallEntrypoint
	}
	if err := checkInstaller("scripts.installation", s); err != nil {
		return nil, err
	}
	return &s, nil
}

// eggVariables reads the variables array: name, description,
// env_variable, default_value, user_editable and Laravel rules.
func eggVariables(raw json.RawMessage) (map[string]Variable, error) {
	if isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, fault.InvalidField("variables", "must be an array")
	}
	if len(list) > maxVariables {
		return nil, fault.InvalidField("variables", "at most %d variables are allowed", maxVariables)
	}
	out := make(map[string]Variable, len(list))
	for i, item := range list {
		field := fmt.Sprintf("variables[%d]", i)
		obj, err := objectField(item, field)
		if err != nil {
			return nil, err
		}
		env, err := stringField(obj, "env_variable", field+".env_variable")
		if err != nil {
			return nil, err
		}
		env = strings.TrimSpace(env)
		switch {
		case env == "":
			return nil, fault.InvalidField(field+".env_variable", "is required")
		case !IsEnvName(env):
			return nil, fault.InvalidField(field+".env_variable", "%q is not a valid variable name", truncate(env))
		case hasKey(out, env):
			return nil, fault.InvalidField(field+".env_variable", "%s is declared twice", env)
		}
		var v Variable
		if v.Name, err = stringField(obj, "name", field+".name"); err != nil {
			return nil, err
		}
		if v.Description, err = stringField(obj, "description", field+".description"); err != nil {
			return nil, err
		}
		v.Name = strings.TrimSpace(v.Name)
		v.Description = strings.ReplaceAll(v.Description, "\r\n", "\n")
		if v.Default, err = scalarField(obj, "default_value", field+".default_value"); err != nil {
			return nil, err
		}
		editable, err := boolField(obj, "user_editable", field+".user_editable", true)
		if err != nil {
			return nil, err
		}
		if !editable {
			v.UserEditable = &editable
		}
		rules, err := ruleList(obj["rules"], field+".rules")
		if err != nil {
			return nil, err
		}
		if err := applyRules(&v, rules, field+".rules"); err != nil {
			return nil, err
		}
		if err := checkVariable(field, env, v); err != nil {
			return nil, err
		}
		out[env] = v
	}
	return out, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
