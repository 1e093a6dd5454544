package runtime

import (
	"path"
	"regexp"
	"strings"
)

// Bash is the shell a startup line written for bash runs in.
const Bash = "/bin/bash"

// Egg startup lines are written for bash: the images Pterodactyl runs
// them in eval the line in bash. Berth runs a line in /bin/sh, which
// is dash or busybox in most images, unless it uses syntax only bash
// knows; that line runs in /bin/bash, and the node checks before the
// start that the image has it (see NeedsBash).

// bashOnly matches the constructs of a line that POSIX sh does not know:
// [[ ]], here-strings, process substitution, &> and |&, $'...', arrays,
// ${!name}, ${name^^}, ${name,,}, ${name:offset}, ${name/from/to},
// source and function.
var bashOnly = regexp.MustCompile(`\[\[ |<<<|[<>]\(|&>|\|&|\$'|` +
	`\$\{!?[A-Za-z_][A-Za-z0-9_]*(\^|,|:[0-9]|: -|/)|\$\{![A-Za-z_]|` +
	`(^|[\s;&|(])(source|function)\s|(^|[\s;&|])[A-Za-z_][A-Za-z0-9_]*=\(`)

// NeedsBash reports whether startup uses syntax only bash runs, and the
// first such construct.
func NeedsBash(startup string) (bool, string) {
	m := bashOnly.FindString(startup)
	return m != "", strings.TrimSpace(m)
}

// StartupShell is the shell a startup line runs in: Bash when it needs
// bash, /bin/sh otherwise.
func StartupShell(startup string) string {
	if needs, _ := NeedsBash(startup); needs {
		return Bash
	}
	return "/bin/sh"
}

// EntrypointNeedsBash reports whether an install script's entrypoint is
// bash ("bash", "/bin/bash", "bash -e").
func EntrypointNeedsBash(entrypoint string) bool {
	words := strings.Fields(entrypoint)
	return len(words) > 0 && path.Base(words[0]) == "bash"
}
