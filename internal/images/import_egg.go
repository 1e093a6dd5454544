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

// importEgg converts a Pterodactyl (PTDL_v1, PTDL_v2) or Pelican (PLCN_v1
// to PLCN_v3) egg. What Berth has no equivalent for is left out:
// config.logs and the inheritance fields (config.extends,
// copy_script_from). What it changes or drops on the way is said in w.
func importEgg(top map[string]json.RawMessage, format Format, w *warnings) (Template, error) {
	t := Template{MountPath: DefaultMountPath}
	err := readStrings(top, stringInto{"name", &t.Name}, stringInto{"author", &t.Author},
		stringInto{"description", &t.Description}, stringInto{"uuid", &t.UUID})
	if err != nil {
		return Template{}, err
	}
	t.Name, t.UUID = strings.TrimSpace(t.Name), strings.TrimSpace(t.UUID)
	if t.Name == "" {
		return Template{}, fault.InvalidField("name", "is required")
	}
	t.Description = strings.ReplaceAll(t.Description, "\r\n", "\n")
	startup, err := eggStartupCommand(top, w)
	if err != nil {
		return Template{}, err
	}
	t.Startup = eggStartup(startup)
	if t.Image, t.AltImages, err = eggImages(top, format, w); err != nil {
		return Template{}, err
	}
	if t.Features, err = stringsField(top, "features", "features"); err != nil {
		return Template{}, err
	}
	if t.StopCommand, t.ReadyPatterns, err = eggConfig(top["config"], w); err != nil {
		return Template{}, err
	}
	if t.ConfigFiles, t.FileDenylist, err = eggExtras(top); err != nil {
		return Template{}, err
	}
	if t.Scripts.Installer, err = eggInstaller(top["scripts"]); err != nil {
		return Template{}, err
	}
	if t.Variables, err = eggVariables(top["variables"], w); err != nil {
		return Template{}, err
	}
	return t, nil
}

// eggStartupCommand reads the start command: "startup", or PLCN_v3's
// "startup_commands", a map of label to command whose first entry is the
// default. Berth has one start command, so the others are left out.
func eggStartupCommand(top map[string]json.RawMessage, w *warnings) (string, error) {
	raw, ok := top["startup_commands"]
	if !ok || isNull(raw) {
		startup, err := stringField(top, "startup", "startup")
		if err == nil {
			err = checkStartup("startup", startup)
		}
		return startup, err
	}
	members, err := orderedObject(raw, "startup_commands")
	if err != nil {
		return "", fault.InvalidField("startup_commands", "must be an object of label to command")
	}
	var first string
	for i, m := range members {
		field := fmt.Sprintf("startup_commands[%q]", m.key)
		var cmd string
		if json.Unmarshal(m.value, &cmd) != nil {
			return "", fault.InvalidField(field, "must be a string")
		}
		if err := checkStartup(field, cmd); err != nil {
			return "", err
		}
		if i == 0 {
			first = cmd
		} else {
			w.add(field, "left out: Berth has one start command and uses the first, %q", members[0].key)
		}
	}
	return first, nil
}

// eggImages reads the Docker images, in every shape eggs use:
// docker_images as an object of label to image (PTDL_v2 and Pelican; the
// first is the default), as an array (older exports) or as one string;
// PTDL_v1's images array, or its single docker_image or image. Pelican's
// eggs use "image" for their icon, a data: URL, which is no Docker image.
// Windows images are left out, with a warning; an egg with nothing else
// is refused, since Berth's nodes run Linux containers.
func eggImages(top map[string]json.RawMessage, format Format, w *warnings) (string, []string, error) {
	var refs []imageRef
	var err error
	for _, key := range []string{"docker_images", "images", "docker_image", "image"} {
		raw, ok := top[key]
		if !ok || isNull(raw) || key == "image" && format != FormatPTDLv1 && isDataURL(raw) {
			continue
		}
		if refs, err = imageList(raw, key); err != nil {
			return "", nil, err
		}
		if len(refs) > 0 {
			break
		}
	}
	if len(refs) == 0 {
		return "", nil, fault.InvalidField("docker_images", "is required: an egg names at least one Docker image")
	}
	var linux []string
	for _, r := range refs {
		if err := checkImageRef(r.field, r.ref); err != nil {
			return "", nil, err
		}
		if isWindowsImage(r.ref) {
			w.add(r.field, "left out: %s is a Windows container image, and Berth's nodes run Linux containers", r.ref)
			continue
		}
		linux = append(linux, r.ref)
	}
	if len(linux) == 0 {
		return "", nil, fault.InvalidField(refs[0].field, "%s is a Windows container image: this egg cannot run on Berth, "+
			"whose nodes run Linux containers", refs[0].ref)
	}
	return linux[0], alternatives(linux[0], linux[1:]), nil
}

// imageRef is one image of an egg and the field that names it.
type imageRef struct{ field, ref string }

// imageList reads one images field: an object of label to image, an
// array of images, or one image.
func imageList(raw json.RawMessage, key string) ([]imageRef, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []imageRef{{key, strings.TrimSpace(one)}}, nil
	}
	var refs []imageRef
	if list, err := stringsField(map[string]json.RawMessage{key: raw}, key, key); err == nil {
		for i, ref := range list {
			refs = append(refs, imageRef{fmt.Sprintf("%s[%d]", key, i), strings.TrimSpace(ref)})
		}
		return refs, nil
	}
	members, err := orderedObject(raw, key)
	if err != nil {
		return nil, fault.InvalidField(key, "must be an object of label to image, an array of images or one image")
	}
	for _, m := range members {
		field := fmt.Sprintf("%s[%q]", key, m.key)
		var ref string
		if json.Unmarshal(m.value, &ref) != nil {
			return nil, fault.InvalidField(field, "must be a string")
		}
		refs = append(refs, imageRef{field, strings.TrimSpace(ref)})
	}
	return refs, nil
}

// isDataURL reports whether raw is a string holding a data: URL.
func isDataURL(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.HasPrefix(strings.TrimSpace(s), "data:")
}

// windowsImages are the repositories of Microsoft's Windows base images;
// an image under them, or tagged for Windows Server, runs only on a
// Windows host.
var windowsImages = regexp.MustCompile(`(^|/)(windows|windows/servercore|windows/nanoserver|windows/server|` +
	`windowsservercore|nanoserver)(:|$|/)|:[^/]*(windowsservercore|nanoserver|ltsc20[0-9]{2})`)

func isWindowsImage(ref string) bool {
	return windowsImages.MatchString(strings.ToLower(ref))
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
func eggConfig(raw json.RawMessage, w *warnings) (stop string, ready []string, err error) {
	config, err := objectField(raw, "config")
	if err != nil {
		return "", nil, err
	}
	if stop, err = stringField(config, "stop", "config.stop"); err != nil {
		return "", nil, err
	}
	stop = eggStop(strings.TrimSpace(stop), w)
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

// eggStop converts config.stop as Pelican and Wings read it. A value
// without a caret is a console line. Otherwise the panel drops the first
// caret and upper-cases the rest, and Wings sends SIGINT for "C" and
// "SIGINT", SIGTERM and SIGABRT by name, and SIGKILL for anything else:
// "^^C" (the rest being "^C") kills the server outright. Berth does the
// same, and warns when a value kills.
func eggStop(stop string, w *warnings) string {
	rest, isSignal := strings.CutPrefix(stop, "^")
	if !isSignal {
		return stop
	}
	switch sig := strings.ToUpper(rest); sig {
	case "C", "SIGINT":
		return "^SIGINT"
	case "SIGTERM", "SIGABRT", "SIGKILL":
		return "^" + sig
	}
	w.add("config.stop", "%q is no signal Wings knows, so Wings kills the server (SIGKILL) without letting it save, "+
		"and so does Berth; write ^C to stop it with SIGINT", truncate(stop))
	return "^SIGKILL"
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
// env_variable, default_value, user_editable and Laravel rules. A name
// declared twice keeps its last declaration, as in Pterodactyl, which
// stores both and builds the environment from them in order, the later
// overwriting the earlier (and in Pelican, whose import updates the first
// with the second). A name Berth sets itself (SERVER_PORT, STARTUP, ...)
// is renamed as Pelican renames it, SERVER_ and the name.
func eggVariables(raw json.RawMessage, w *warnings) (map[string]Variable, error) {
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
	declared := map[string]int{}
	for i, item := range list {
		field := fmt.Sprintf("variables[%d]", i)
		env, v, err := eggVariable(item, field, w)
		if err != nil {
			return nil, err
		}
		if first, ok := declared[env]; ok {
			w.add(field+".env_variable", "%s is declared again (first in variables[%d]); the last declaration wins, as in Pterodactyl", env, first)
		} else {
			declared[env] = i
		}
		out[env] = v
	}
	return out, nil
}

// eggVariable reads one variable and its environment name.
func eggVariable(item json.RawMessage, field string, w *warnings) (string, Variable, error) {
	obj, err := objectField(item, field)
	if err != nil {
		return "", Variable{}, err
	}
	env, err := stringField(obj, "env_variable", field+".env_variable")
	if err != nil {
		return "", Variable{}, err
	}
	env = strings.TrimSpace(env)
	switch {
	case env == "":
		return "", Variable{}, fault.InvalidField(field+".env_variable", "is required")
	case !IsEnvName(env):
		return "", Variable{}, fault.InvalidField(field+".env_variable", "%q is not a valid variable name", truncate(env))
	case reserved[env]:
		// The startup's {{NAME}} keeps meaning Berth's own value.
		renamed := "SERVER_" + env
		w.add(field+".env_variable", "%s is set by Berth itself, so the variable is renamed %s, as Pelican renames it", env, renamed)
		env = renamed
	}
	var v Variable
	if v.Name, err = stringField(obj, "name", field+".name"); err != nil {
		return "", Variable{}, err
	}
	if v.Description, err = stringField(obj, "description", field+".description"); err != nil {
		return "", Variable{}, err
	}
	v.Name = strings.TrimSpace(v.Name)
	v.Description = strings.ReplaceAll(v.Description, "\r\n", "\n")
	if v.Default, err = scalarField(obj, "default_value", field+".default_value"); err != nil {
		return "", Variable{}, err
	}
	editable, err := boolField(obj, "user_editable", field+".user_editable", true)
	if err != nil {
		return "", Variable{}, err
	}
	if !editable {
		v.UserEditable = &editable
	}
	rules, err := ruleList(obj["rules"], field+".rules")
	if err != nil {
		return "", Variable{}, err
	}
	if err := applyRules(&v, rules, field+".rules", w); err != nil {
		return "", Variable{}, err
	}
	if err := checkVariable(field, env, v); err != nil {
		return "", Variable{}, err
	}
	return env, v, nil
}
