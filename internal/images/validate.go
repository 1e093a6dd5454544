package images

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// Limits of a template. They are generous for any real server and keep a
// hostile document from bloating the database or the node's specs.
const (
	maxName          = 100
	maxAuthor        = 200
	maxUUID          = 64
	maxDescription   = 4000
	maxImageRef      = 255
	maxImages        = 64
	maxEnv           = 128
	maxValue         = 4096
	maxStartup       = 8192
	maxStop          = 256
	maxBackupCommand = 1024
	maxPatterns      = 32
	maxPattern       = 1024
	maxVariables     = 128
	maxOneOf         = 256
	maxDownloads     = 64
	maxScript        = 256 << 10
	maxFeatures      = 64
	maxFeature       = 64
)

// imageRefPattern is the grammar of a Docker image reference: an optional
// registry host, a lowercase path, then an optional tag and digest.
var imageRefPattern = regexp.MustCompile(`^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*` +
	`(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)

// IsImageRef reports whether s is a well-formed Docker image reference.
func IsImageRef(s string) bool {
	return len(s) <= maxImageRef && imageRefPattern.MatchString(s)
}

// IsEnvName reports whether s can name an environment variable: letters,
// digits and '_', not starting with a digit, at most 64 bytes.
func IsEnvName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate checks every field of t. The error is a fault.Invalid that
// names the first bad field, as Berth's format spells it.
func (t Template) Validate() error {
	if err := checkText("Name", t.Name, maxName, true, false); err != nil {
		return err
	}
	if err := checkText("Author", t.Author, maxAuthor, false, false); err != nil {
		return err
	}
	if err := checkText("Uuid", t.UUID, maxUUID, false, false); err != nil {
		return err
	}
	if err := checkText("Description", t.Description, maxDescription, false, true); err != nil {
		return err
	}
	if err := checkImageRef("Image", t.Image); err != nil {
		return err
	}
	if len(t.AltImages) > maxImages {
		return fault.InvalidField("AltImages", "at most %d images are allowed", maxImages)
	}
	for i, ref := range t.AltImages {
		if err := checkImageRef(fmt.Sprintf("AltImages[%d]", i), ref); err != nil {
			return err
		}
	}
	if len(t.Env) > maxEnv {
		return fault.InvalidField("Env", "at most %d entries are allowed", maxEnv)
	}
	for i, kv := range t.Env {
		if err := checkEnvEntry(fmt.Sprintf("Env[%d]", i), kv); err != nil {
			return err
		}
	}
	if err := checkStartup("Startup", t.Startup); err != nil {
		return err
	}
	if err := checkStop("StopCommand", t.StopCommand); err != nil {
		return err
	}
	if err := checkPatterns("ReadyPatterns", t.ReadyPatterns); err != nil {
		return err
	}
	if err := checkMountPath("MountPath", t.MountPath); err != nil {
		return err
	}
	if len(t.Variables) > maxVariables {
		return fault.InvalidField("Variables", "at most %d variables are allowed", maxVariables)
	}
	for _, name := range sortedKeys(t.Variables) {
		if err := checkVariable("Variables."+name, name, t.Variables[name]); err != nil {
			return err
		}
	}
	if len(t.Scripts.Install) > maxDownloads {
		return fault.InvalidField("Scripts.Install", "at most %d downloads are allowed", maxDownloads)
	}
	for i, d := range t.Scripts.Install {
		if err := checkDownload(fmt.Sprintf("Scripts.Install[%d]", i), d); err != nil {
			return err
		}
	}
	if t.Scripts.Installer != nil {
		if err := checkInstaller("Scripts.Installer", *t.Scripts.Installer); err != nil {
			return err
		}
	}
	if err := t.CheckFiles(); err != nil {
		return err
	}
	if c := t.BackupCommands; c != nil {
		if err := checkText("BackupCommands.before", c.Before, maxBackupCommand, false, true); err != nil {
			return err
		}
		if err := checkText("BackupCommands.after", c.After, maxBackupCommand, false, true); err != nil {
			return err
		}
	}
	return checkFeatures("features", t.Features)
}

// checkText checks a free-text field: its length, no NUL, and control
// characters only where multiline is allowed (newlines and tabs).
func checkText(field, s string, max int, required, multiline bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fault.InvalidField(field, "is required")
	case len(s) > max:
		return fault.InvalidField(field, "must be at most %d bytes", max)
	case !utf8.ValidString(s):
		return fault.InvalidField(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return fault.InvalidField(field, "must not contain control characters")
		}
	}
	return nil
}

func checkImageRef(field, ref string) error {
	if ref == "" {
		return fault.InvalidField(field, "is required")
	}
	if !IsImageRef(ref) {
		return fault.InvalidField(field, "%q is not a Docker image reference", ref)
	}
	return nil
}

func checkEnvEntry(field, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || !IsEnvName(k) {
		return fault.InvalidField(field, "%q must be KEY=VALUE with a valid variable name", truncate(kv))
	}
	if err := nodeapi.CheckEnvName(k); err != nil {
		return fault.InvalidField(field, "%s", err)
	}
	if len(v) > maxValue || strings.ContainsRune(v, 0) {
		return fault.InvalidField(field, "the value of %s must be at most %d bytes, without NUL", k, maxValue)
	}
	return nil
}

func checkStartup(field, s string) error {
	if len(s) > maxStartup {
		return fault.InvalidField(field, "must be at most %d bytes", maxStartup)
	}
	if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
		return fault.InvalidField(field, "must be valid UTF-8 without NUL")
	}
	return nil
}

// checkStop accepts a one-line console command, or "^" and a signal name
// ("^C" being SIGINT, as eggs write it).
func checkStop(field, s string) error {
	if err := checkText(field, s, maxStop, false, false); err != nil {
		return err
	}
	sig, isSignal := strings.CutPrefix(s, "^")
	if !isSignal {
		return nil
	}
	if sig == "" || strings.IndexFunc(sig, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) >= 0 {
		return fault.InvalidField(field, "%q must be ^ and a signal name, such as ^SIGINT", s)
	}
	return nil
}

// checkPatterns checks readiness patterns: substrings, or "regex:" and a
// Go regular expression.
func checkPatterns(field string, patterns []string) error {
	if len(patterns) > maxPatterns {
		return fault.InvalidField(field, "at most %d patterns are allowed", maxPatterns)
	}
	for i, p := range patterns {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f, p, maxPattern, true, false); err != nil {
			return err
		}
		if re, ok := strings.CutPrefix(p, "regex:"); ok {
			if _, err := regexp.Compile(re); err != nil {
				return fault.InvalidField(f, "invalid regular expression: %s", regexpReason(err))
			}
		}
	}
	return nil
}

func checkMountPath(field, p string) error {
	if p == "" {
		return nil
	}
	if len(p) > maxImageRef || strings.ContainsFunc(p, unicode.IsControl) {
		return fault.InvalidField(field, "must be at most %d bytes, without control characters", maxImageRef)
	}
	if err := nodeapi.CheckMountPath(p); err != nil {
		return fault.InvalidField(field, "%s", err)
	}
	return nil
}

func checkVariable(field, name string, v Variable) error {
	if !IsEnvName(name) {
		return fault.InvalidField("Variables", "%q is not a valid variable name (letters, digits and _, not starting with a digit)", truncate(name))
	}
	if reserved[name] {
		return fault.InvalidField(field, "%s is set by Berth and cannot be a variable", name)
	}
	if err := nodeapi.CheckEnvName(name); err != nil {
		return fault.InvalidField(field, "%s", err)
	}
	if err := checkText(field+".name", v.Name, maxName, false, false); err != nil {
		return err
	}
	if err := checkText(field+".description", v.Description, maxDescription, false, true); err != nil {
		return err
	}
	if len(v.Default) > maxValue || strings.ContainsRune(v.Default, 0) {
		return fault.InvalidField(field+".default", "must be at most %d bytes, without NUL", maxValue)
	}
	switch v.Type {
	case "", TypeString, TypeInt, TypeNumber:
	case TypeBool:
		if v.Min != nil || v.Max != nil {
			return fault.InvalidField(field, "min and max do not apply to a bool")
		}
	default:
		return fault.InvalidField(field+".type", "%q must be string, int, number or bool", truncate(v.Type))
	}
	if v.Regex != "" {
		if len(v.Regex) > maxPattern {
			return fault.InvalidField(field+".regex", "must be at most %d bytes", maxPattern)
		}
		if _, err := regexp.Compile(v.Regex); err != nil {
			return fault.InvalidField(field+".regex", "invalid regular expression: %s", regexpReason(err))
		}
	}
	if (v.Type == "" || v.Type == TypeString) && v.Min != nil && *v.Min < 0 {
		return fault.InvalidField(field+".min", "a length cannot be negative")
	}
	if v.Min != nil && v.Max != nil && (*v.Min > *v.Max || *v.Min == *v.Max && (v.MinExclusive || v.MaxExclusive)) {
		return fault.InvalidField(field+".max", "leaves no value between min (%d) and max", *v.Min)
	}
	if len(v.OneOf) > maxOneOf {
		return fault.InvalidField(field+".oneOf", "at most %d values are allowed", maxOneOf)
	}
	if len(v.NotOneOf) > maxOneOf {
		return fault.InvalidField(field+".notOneOf", "at most %d values are allowed", maxOneOf)
	}
	for _, list := range []struct {
		key    string
		values []string
	}{{"oneOf", v.OneOf}, {"notOneOf", v.NotOneOf}} {
		for i, s := range list.values {
			if len(s) > maxValue || strings.ContainsRune(s, 0) {
				return fault.InvalidField(fmt.Sprintf("%s.%s[%d]", field, list.key, i), "must be at most %d bytes, without NUL", maxValue)
			}
		}
	}
	if v.Default != "" {
		if msg := checkValue(v, v.Default); msg != "" {
			return fault.InvalidField(field+".default", "%q %s", truncate(v.Default), msg)
		}
	}
	return nil
}

// checkDownload accepts an https URL (placeholders allowed after the host)
// and a clean relative path inside the data folder.
func checkDownload(field string, d Download) error {
	if err := checkText(field+".Uri", d.URI, maxValue, true, false); err != nil {
		return err
	}
	u, err := url.Parse(d.URI)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return fault.InvalidField(field+".Uri", "%q must be an https URL without credentials", truncate(d.URI))
	}
	return checkRelativePath(field+".Path", d.Path)
}

// checkRelativePath accepts a clean relative path that stays inside its
// folder.
func checkRelativePath(field, p string) error {
	if err := checkText(field, p, maxImageRef, true, false); err != nil {
		return err
	}
	if path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") {
		return fault.InvalidField(field, "%q must be a clean relative path inside the data folder", truncate(p))
	}
	return nil
}

func checkInstaller(field string, s InstallScript) error {
	if err := checkImageRef(field+".Image", s.Image); err != nil {
		return err
	}
	if err := checkText(field+".Entrypoint", s.Entrypoint, maxImageRef, true, false); err != nil {
		return err
	}
	if strings.TrimSpace(s.Script) == "" {
		return fault.InvalidField(field+".Script", "is required")
	}
	if len(s.Script) > maxScript || strings.ContainsRune(s.Script, 0) || !utf8.ValidString(s.Script) {
		return fault.InvalidField(field+".Script", "must be at most %d bytes of UTF-8, without NUL", maxScript)
	}
	return nil
}

func checkFeatures(field string, features []string) error {
	if len(features) > maxFeatures {
		return fault.InvalidField(field, "at most %d features are allowed", maxFeatures)
	}
	for i, f := range features {
		if err := checkText(fmt.Sprintf("%s[%d]", field, i), f, maxFeature, true, false); err != nil {
			return err
		}
	}
	return nil
}

// regexpReason is a compile error without the package's prefix.
func regexpReason(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// truncate shortens a value quoted in an error message.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 61
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
