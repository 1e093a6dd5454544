package nodeapi

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Limits of GET /v1/instances/{id}/logs: the tail a request gets when it
// names none, and the most it may ask for.
const (
	DefaultLogTail = 100
	MaxLogTail     = 5000
)

// MaxInstanceIDLen is the longest instance ID the protocol accepts.
const MaxInstanceIDLen = 64

// FieldError reports a value that breaks a protocol rule. Field is the JSON
// name of the offending field, so both a user and a program can tell which.
type FieldError struct {
	Field string
	Rule  string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule }

// ValidateInstanceID checks that id is 1 to 64 ASCII letters, digits or
// dashes. Node paths (container names, data folders, spec files) are built
// from the ID, so this is what keeps them inside their folders.
func ValidateInstanceID(id string) error {
	if id == "" || len(id) > MaxInstanceIDLen {
		return &FieldError{"id", fmt.Sprintf("must be 1 to %d characters", MaxInstanceIDLen)}
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return &FieldError{"id", "may contain only letters, digits and '-'"}
		}
	}
	return nil
}

// Validate checks everything the node needs from a spec before it touches
// anything. It returns a *FieldError naming the first field that is wrong.
func (s InstanceSpec) Validate() error {
	if err := ValidateInstanceID(s.ID); err != nil {
		return err
	}
	if s.Generation < 0 {
		return &FieldError{"generation", "must not be negative"}
	}
	if strings.TrimSpace(s.Image) == "" {
		return &FieldError{"image", "is required"}
	}
	if strings.ContainsFunc(s.Image, isSpaceOrControl) {
		return &FieldError{"image", "must not contain spaces or control characters"}
	}
	if s.MemoryMiB <= 0 {
		return &FieldError{"memoryMiB", "must be greater than 0"}
	}
	// NaN compares false with everything, so test for "not positive" this way.
	if !(s.CPU > 0) {
		return &FieldError{"cpu", "must be greater than 0"}
	}
	if s.DiskMiB < 0 {
		return &FieldError{"diskMiB", "must not be negative"}
	}
	if err := validatePorts(s.Ports, s.PrimaryPort); err != nil {
		return err
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return &FieldError{"env", fmt.Sprintf("name %q must be non-empty without '=' or NUL", k)}
		}
		if err := CheckEnvName(k); err != nil {
			return &FieldError{"env", err.Error()}
		}
		if strings.ContainsRune(v, 0) {
			return &FieldError{"env", fmt.Sprintf("value of %s must not contain NUL", k)}
		}
	}
	if strings.ContainsRune(s.Startup, 0) {
		return &FieldError{"startup", "must not contain NUL"}
	}
	if s.MountPath != "" {
		if err := CheckMountPath(s.MountPath); err != nil {
			return &FieldError{"mountPath", err.Error()}
		}
	}
	if s.Desired != DesiredRunning && s.Desired != DesiredStopped {
		return &FieldError{"desired", fmt.Sprintf("must be %q or %q", DesiredRunning, DesiredStopped)}
	}
	for i, p := range s.ReadyPatterns {
		if err := validateReadyPattern(fmt.Sprintf("readyPatterns[%d]", i), p); err != nil {
			return err
		}
	}
	if s.Install != nil {
		if err := s.Install.validate(); err != nil {
			return err
		}
	}
	for i, d := range s.Downloads {
		if err := d.validate(fmt.Sprintf("downloads[%d]", i)); err != nil {
			return err
		}
	}
	return validateFiles(s.ConfigFiles, s.FileDenylist)
}

// kernelFolders are where the kernel's files appear in a container. The
// data folder mounted on one of them, or inside one, would hide what the
// runtime put there or hand the game a writable /dev or /sys entry.
var kernelFolders = []string{"/proc", "/dev", "/sys"}

// CheckMountPath returns the rule p breaks as the path the data folder is
// mounted at in a container, or nil. It must be absolute and clean, not
// "/", and not /proc, /dev, /sys or a path under them (nor one that
// cleans to such a path, as /data/../proc). The panel checks templates
// with it and the node checks specs, so both refuse the same paths.
func CheckMountPath(p string) error {
	clean := path.Clean(p)
	if path.IsAbs(p) {
		for _, k := range kernelFolders {
			if clean == k || strings.HasPrefix(clean, k+"/") {
				return fmt.Errorf("%q must not be %s or under it: the kernel's files are there", p, k)
			}
		}
	}
	if !path.IsAbs(p) || clean != p || p == "/" {
		return fmt.Errorf("%q must be a clean absolute path other than /", p)
	}
	return nil
}

// protectedEnv are the environment variables no template, deploy or spec
// may set, because something other than the game reads them: they would
// run code or change which program runs, in the server's container and
// in its install container alike (both get the same environment).
// HOSTNAME, HOME and TERM are not here: Docker fills them in only when
// they are unset, a value changes nothing but the variable, and eggs use
// HOSTNAME as a server's name and set HOME to the data folder.
var protectedEnv = []struct {
	name   string
	prefix bool
	why    string
}{
	// LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...: glibc's and musl's
	// loaders read them in every dynamically linked program, whatever
	// the startup command runs.
	{"LD_", true, "is read by the dynamic loader, which would load code from it"},
	{"GLIBC_TUNABLES", false, "is read by the C library's loader (CVE-2023-4911)"},
	{"GCONV_PATH", false, "makes the C library load code from the folder it names"},
	{"BASH_ENV", false, "names a file every bash script runs before its own commands"},
	{"PATH", false, "decides which program each command runs; the image sets it"},
	{"DOCKER_", true, "is reserved for Docker's own settings"},
}

// CheckEnvName returns why no instance may set the environment variable
// name, or nil. It is the one list the panel checks template environment
// and variables against, at import and at deploy, and the node checks a
// spec's environment against.
func CheckEnvName(name string) error {
	for _, p := range protectedEnv {
		if name == p.name || p.prefix && strings.HasPrefix(name, p.name) {
			return fmt.Errorf("%s cannot be set: it %s", name, p.why)
		}
	}
	return nil
}

// validateReadyPattern accepts a non-empty substring, or "regex:" and a
// regular expression that compiles.
func validateReadyPattern(field, p string) error {
	if p == "" || strings.ContainsRune(p, 0) {
		return &FieldError{field, "must be non-empty, without NUL"}
	}
	if re, ok := strings.CutPrefix(p, "regex:"); ok {
		if _, err := regexp.Compile(re); err != nil {
			return &FieldError{field, "invalid regular expression: " + err.Error()}
		}
	}
	return nil
}

func (s InstallSpec) validate() error {
	if strings.TrimSpace(s.Image) == "" || strings.ContainsFunc(s.Image, isSpaceOrControl) {
		return &FieldError{"install.image", "is required, without spaces or control characters"}
	}
	if strings.TrimSpace(s.Entrypoint) == "" || strings.ContainsRune(s.Entrypoint, 0) {
		return &FieldError{"install.entrypoint", "is required, without NUL"}
	}
	if strings.TrimSpace(s.Script) == "" || strings.ContainsRune(s.Script, 0) {
		return &FieldError{"install.script", "is required, without NUL"}
	}
	return nil
}

// validate accepts an https URL and a path that stays inside the data
// folder: relative, clean, not "..".
func (d Download) validate(field string) error {
	u, err := url.Parse(d.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return &FieldError{field + ".url", "must be an https URL without credentials"}
	}
	return checkRelativePath(field+".path", d.Path)
}

// checkRelativePath accepts a clean relative path inside the data folder.
func checkRelativePath(field, p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") ||
		strings.ContainsAny(p, "\\\x00") {
		return &FieldError{field, "must be a clean relative path inside the data folder"}
	}
	return nil
}

func validatePorts(ports []Port, primary int) error {
	if len(ports) == 0 {
		return &FieldError{"ports", "at least one port is required"}
	}
	seen := make(map[int]bool, len(ports))
	primaryListed := false
	for i, p := range ports {
		if !validPort(p.Container) {
			return &FieldError{fmt.Sprintf("ports[%d].container", i), "must be from 1 to 65535"}
		}
		if !validPort(p.Host) {
			return &FieldError{fmt.Sprintf("ports[%d].host", i), "must be from 1 to 65535"}
		}
		// Docker refuses to bind one host port twice; say so before it does.
		if seen[p.Host] {
			return &FieldError{fmt.Sprintf("ports[%d].host", i), fmt.Sprintf("port %d is listed twice", p.Host)}
		}
		seen[p.Host] = true
		primaryListed = primaryListed || p.Container == primary
	}
	if !primaryListed {
		return &FieldError{"primaryPort", "must be one of the container ports in ports"}
	}
	return nil
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }
