// Package images holds the image template model (what an instance is
// started from), its rules for variables, and the importers of the formats
// operators already own: Skyport "Images v2" documents and Pterodactyl and
// Pelican eggs. The panel stores templates as JSON in this package's own
// format and shows them in it through GET /api/images.
package images

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// DefaultMountPath is where an instance's data folder appears when a
// template names no other place.
const DefaultMountPath = "/home/container"

// Template is an image template. Top-level field names follow Skyport's
// "Images v2" documents (PascalCase, and "features" in lower case), so
// clients written for it read GET /api/images unchanged; the fields it
// lacks are Berth's additions in the same style.
type Template struct {
	// ID is assigned by the panel when the template is stored; an imported
	// document's Id is ignored.
	ID string `json:"Id"`
	// UUID is the identity an egg carries across its versions (its
	// "uuid"): importing a document of the same UUID again replaces the
	// template, when asked to. Empty when the document has none.
	UUID string `json:"Uuid,omitempty"`
	// Format is "berth/v1" (FormatBerth): it marks the document as Berth's
	// own format, so GET /api/images output can be imported unchanged.
	Format string `json:"Format"`
	// Name identifies the template to deploys (their image or imagename);
	// it is unique among templates, ignoring case.
	Name string `json:"Name"`
	// Description is free text for operators.
	Description string `json:"Description"`
	// Author is who wrote the template, free text (often an email).
	Author string `json:"Author"`
	// Image is the default Docker image reference.
	Image string `json:"Image"`
	// AltImages are the other Docker images a deploy may name instead of
	// Image; any other reference is refused.
	AltImages []string `json:"AltImages"`
	// Env is fixed environment for the instance, each "KEY=VALUE". The
	// instance's variables are passed beside it and win on a clash.
	Env []string `json:"Env"`
	// Startup is the start command, run by /bin/sh -c in the data folder;
	// empty keeps the image's own command. {{NAME}} placeholders are
	// replaced by variables and by the built-ins SERVER_MEMORY,
	// SERVER_PORT and SERVER_IP (see Placeholders). The rendered command is
	// also given to the container as STARTUP.
	Startup string `json:"Startup"`
	// StopCommand stops the server: a line written to its console, or
	// "^SIGNAL" (such as "^SIGINT") to send a signal. Empty sends SIGTERM.
	// Either way the instance is killed if it has not stopped in time.
	StopCommand string `json:"StopCommand"`
	// ReadyPatterns move an instance from starting to running when one of
	// them appears in its console output: a plain substring, or a Go
	// regular expression written "regex:...". With none, the instance is
	// running as soon as its process is.
	ReadyPatterns []string `json:"ReadyPatterns"`
	// MountPath is the absolute path where the data folder is mounted in
	// the server's container; empty means DefaultMountPath.
	MountPath string `json:"MountPath"`
	// Variables are the settings a deploy gives, keyed by the environment
	// variable name each is passed as.
	Variables map[string]Variable `json:"Variables"`
	// Scripts is the install work done before the first start.
	Scripts Scripts `json:"Scripts"`
	// Features are free-form flags a user interface may act on, such as
	// "eula" (ask the user to accept the Minecraft EULA).
	Features []string `json:"features"`
	// ConfigFiles are the game's own configuration files the node
	// rewrites before every start, as an egg's config.files asks: its
	// port in server.properties, its bind address in config.yml.
	ConfigFiles []ConfigFile `json:"ConfigFiles,omitempty"`
	// FileDenylist holds gitignore-style patterns (an egg's
	// file_denylist) of files in the data folder the file API refuses to
	// read, write, rename, delete or extract to.
	FileDenylist []string `json:"FileDenylist,omitempty"`
	// BackupCommands are console commands sent to a running instance
	// around its backup's archive, so that the archive is consistent:
	// "save-off" and "save-all" before, "save-on" after. Absent sends
	// none. Eggs have no such field.
	BackupCommands *BackupCommands `json:"BackupCommands,omitempty"`
}

// BackupCommands are a template's console commands around a backup.
type BackupCommands struct {
	// Before is sent before the archive starts; several commands go on
	// separate lines.
	Before string `json:"before,omitempty"`
	// After is sent once the archive is done, whether it succeeded or not.
	After string `json:"after,omitempty"`
}

// Variable is one setting of a template. Its value reaches the server as
// an environment variable and through {{NAME}} placeholders. A value is
// checked against the rules below at deploy (see CheckVariables); an empty
// value passes every rule but Required.
type Variable struct {
	// Name is a short human-readable label, such as "Server version".
	Name string `json:"name,omitempty"`
	// Description explains the setting to whoever deploys.
	Description string `json:"description,omitempty"`
	// Default is the value used when a deploy gives none.
	Default string `json:"default"`
	// UserEditable says whether a deploy may set the value; absent means
	// true. A deploy may still repeat the default of a variable that is
	// not editable.
	UserEditable *bool `json:"userEditable,omitempty"`
	// Required rejects an empty value.
	Required bool `json:"required"`
	// Type is what the value must be: "string" (the default, any text),
	// "int" (a whole number in decimal), "number" (a decimal number) or
	// "bool" ("true", "false", "1" or "0"). Empty is read as "string".
	Type string `json:"type"`
	// Regex, when set, must match somewhere in the value (Go RE2 syntax;
	// anchor it with ^ and $ to match the whole value).
	Regex string `json:"regex,omitempty"`
	// Min and Max bound the value: its length in characters for a string,
	// its value for an int or a number. Absent means unbounded.
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
	// MinExclusive and MaxExclusive make Min and Max bounds the value must
	// not reach (Laravel's gt and lt), rather than ones it may equal.
	MinExclusive bool `json:"minExclusive,omitempty"`
	MaxExclusive bool `json:"maxExclusive,omitempty"`
	// OneOf, when not empty, lists every value allowed, and NotOneOf every
	// value refused. Numbers are compared as numbers ("1.0" is "1"), as
	// Laravel's in and not_in compare them.
	OneOf    []string `json:"oneOf,omitempty"`
	NotOneOf []string `json:"notOneOf,omitempty"`
}

// Editable reports whether a deploy may set the variable.
func (v Variable) Editable() bool { return v.UserEditable == nil || *v.UserEditable }

// The variable types.
const (
	TypeString = "string"
	TypeInt    = "int"
	TypeNumber = "number"
	TypeBool   = "bool"
)

// Scripts is a template's install work, done once before the first start:
// first the downloads, then the install script.
type Scripts struct {
	// Install lists files to download into the data folder (Skyport's
	// "Scripts.Install").
	Install []Download `json:"Install"`
	// Installer is a script run in its own container; nil means none.
	Installer *InstallScript `json:"Installer,omitempty"`
}

// Download fetches one file into the data folder.
type Download struct {
	// URI is an https URL; {{NAME}} placeholders in it are replaced by
	// variables.
	URI string `json:"Uri"`
	// Path is where the file goes, relative to the data folder, clean and
	// inside it.
	Path string `json:"Path"`
}

// InstallScript is a script run once, in a container of its own, with the
// data folder mounted at /mnt/server (where eggs expect it) and the
// instance's environment. A non-zero exit fails the install.
type InstallScript struct {
	// Image is the Docker image the script runs in.
	Image string `json:"Image"`
	// Entrypoint is the interpreter the script is given to, such as "bash"
	// or "ash".
	Entrypoint string `json:"Entrypoint"`
	// Script is the script's text.
	Script string `json:"Script"`
}

// Decode reads a stored template document, with the defaults of Berth's
// format filled in. It does not validate: stored templates were validated
// when they were imported.
func Decode(doc []byte) (Template, error) {
	var t Template
	if err := json.Unmarshal(doc, &t); err != nil {
		return Template{}, fmt.Errorf("template: %w", err)
	}
	t.normalise()
	return t, nil
}

// Encode returns the document stored for t, in Berth's format.
func Encode(t Template) ([]byte, error) {
	t.normalise()
	return json.Marshal(t)
}

// normalise fills in the defaults of Berth's format, so that equal
// templates encode equally: the Format mark, the mount path, and empty
// lists rather than null.
func (t *Template) normalise() {
	t.Format = string(FormatBerth)
	if t.MountPath == "" {
		t.MountPath = DefaultMountPath
	}
	t.AltImages = nonNil(t.AltImages)
	t.Env = nonNil(t.Env)
	t.ReadyPatterns = nonNil(t.ReadyPatterns)
	t.Features = nonNil(t.Features)
	if t.Scripts.Install == nil {
		t.Scripts.Install = []Download{}
	}
	if t.Variables == nil {
		t.Variables = map[string]Variable{}
	}
	for name, v := range t.Variables {
		if len(v.OneOf) == 0 {
			v.OneOf = nil
		}
		if len(v.NotOneOf) == 0 {
			v.NotOneOf = nil
		}
		if v.Type == "" {
			v.Type = TypeString
		}
		t.Variables[name] = v
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Built-in placeholders: values a template may use in Startup without
// declaring them as variables. They are also passed as environment.
const (
	// PlaceholderMemory is the instance's memory limit in MiB.
	PlaceholderMemory = "SERVER_MEMORY"
	// PlaceholderPort is the primary port inside the container.
	PlaceholderPort = "SERVER_PORT"
	// PlaceholderIP is the address to listen on inside the container:
	// 0.0.0.0, since the node publishes the ports.
	PlaceholderIP = "SERVER_IP"
)

// reserved are environment names the node or the panel sets; a template
// cannot declare a variable with one of them.
var reserved = map[string]bool{
	"STARTUP": true, "PRIMARY_PORT": true,
	PlaceholderMemory: true, PlaceholderPort: true, PlaceholderIP: true,
}

// Placeholders returns the values {{NAME}} placeholders are rendered with:
// the instance's variables plus the built-ins.
func Placeholders(vars map[string]string, memoryMiB int64, primaryPort int) map[string]string {
	out := make(map[string]string, len(vars)+3)
	for k, v := range vars {
		out[k] = v
	}
	out[PlaceholderMemory] = strconv.FormatInt(memoryMiB, 10)
	out[PlaceholderPort] = strconv.Itoa(primaryPort)
	out[PlaceholderIP] = "0.0.0.0"
	return out
}

// Render replaces each {{NAME}} in s with vars[NAME]. Unknown names are
// left as written, so a typo shows in the console rather than vanishing.
func Render(s string, vars map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			break
		}
		name := strings.TrimSpace(s[i+2 : i+2+j])
		b.WriteString(s[:i])
		if v, ok := vars[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+4+j])
		}
		s = s[i+4+j:]
	}
	b.WriteString(s)
	return b.String()
}

// RenderDownloads returns the template's downloads with variables filled
// into their URLs, checked again now that the values are in: a value
// cannot turn a URL into a non-https one.
func (t Template) RenderDownloads(vars map[string]string) ([]Download, error) {
	out := make([]Download, 0, len(t.Scripts.Install))
	for i, d := range t.Scripts.Install {
		d.URI = Render(d.URI, vars)
		if err := checkDownload(fmt.Sprintf("Scripts.Install[%d]", i), d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// AllowsImage reports whether ref is the template's image or one of its
// alternatives.
func (t Template) AllowsImage(ref string) bool {
	if ref == t.Image {
		return true
	}
	for _, alt := range t.AltImages {
		if ref == alt {
			return true
		}
	}
	return false
}
