package runtime

import (
	"path"
	"strings"
)

// An install runs once, before an instance's first start, in a container of
// its own: short-lived, with the data folder mounted where egg scripts
// expect it, and removed when it ends. It is never the instance's
// container, so List (which reports containers labelled LabelManaged)
// leaves it out, and a daemon that restarts mid-install finds nothing of
// it to adopt: the install simply runs again.

// LabelRole marks a container that is not an instance's own; its value
// says what it is for, such as RoleInstall.
const LabelRole = "berth.role"

// RoleInstall is the LabelRole of an install container.
const RoleInstall = "install"

// Paths inside an install container.
const (
	// InstallMountPath is where the instance's data folder is mounted.
	InstallMountPath = "/mnt/server"
	// InstallScriptDir holds the script, mounted read-only.
	InstallScriptDir = "/mnt/install"
	// InstallScriptName is the script's file name in InstallScriptDir.
	InstallScriptName = "install.sh"
)

// DefaultInstallEntrypoint runs the script when the job names no
// interpreter.
const DefaultInstallEntrypoint = "sh"

// InstallJob is one run of an instance's install script.
type InstallJob struct {
	// InstanceID names the container (berth-<id>-install) and labels it.
	InstanceID string
	// Image is the Docker image the script runs in; it is pulled when it
	// is not present.
	Image string
	// Entrypoint is the interpreter given the script's path, such as
	// "bash"; empty means DefaultInstallEntrypoint. Words after the first
	// are passed before the path ("bash -e").
	Entrypoint string
	// Script is the script's text.
	Script string
	// Env is the container environment as KEY=VALUE pairs.
	Env []string
	// DataDir is the absolute host folder mounted at InstallMountPath.
	DataDir string
	// MemoryMiB is the memory limit (swap held equal); 0 means unlimited.
	MemoryMiB int64
	// CPU is the number of cores (decimals allowed); 0 means unlimited.
	CPU float64
	// PidsLimit caps processes; 0 means the runtime default.
	PidsLimit int64
}

// InstallCommand is how an install container runs its script: the
// entrypoint's words (DefaultInstallEntrypoint when there are none)
// followed by the script's path.
func InstallCommand(entrypoint string) []string {
	words := strings.Fields(entrypoint)
	if len(words) == 0 {
		words = []string{DefaultInstallEntrypoint}
	}
	return append(words, path.Join(InstallScriptDir, InstallScriptName))
}
