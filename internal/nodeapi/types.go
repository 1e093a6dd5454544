// Package nodeapi is the panel-node protocol: the wire types of the node
// daemon's versioned /v1 HTTP API and the client the panel calls it with.
// Both sides import it, so they cannot drift apart.
package nodeapi

import (
	"encoding/json"
	"time"
)

// Desired power states the panel asks a node for.
const (
	DesiredRunning = "running"
	DesiredStopped = "stopped"
)

// Power statuses of an instance, as DESIGN.md §4 names them.
const (
	StatusOffline  = "offline"
	StatusStarting = "starting"
	StatusRunning  = "running"
	StatusStopping = "stopping"
	StatusStopped  = "stopped"
	StatusCrashed  = "crashed"
	// StatusInstalling is reported while the install runs, before the
	// instance's container exists.
	StatusInstalling = "installing"
)

// Power actions accepted by POST /v1/instances/{id}/power.
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRestart = "restart"
	ActionKill    = "kill"
)

// Port publishes one container port on one host port (TCP and UDP).
type Port struct {
	Container int `json:"container"`
	Host      int `json:"host"`
}

// InstanceSpec is what PUT /v1/instances/{id} asks the node to make true.
// Sending the same spec twice is harmless.
type InstanceSpec struct {
	// ID is the instance ID; it must equal the path's {id}.
	ID string `json:"id"`
	// Generation increases whenever the panel changes anything here.
	Generation int64 `json:"generation"`
	// Image is a Docker image reference.
	Image string `json:"image"`
	// MemoryMiB is the memory limit; must be positive.
	MemoryMiB int64 `json:"memoryMiB"`
	// CPU is cores, decimals allowed; must be positive.
	CPU float64 `json:"cpu"`
	// DiskMiB is the disk allowance of the data folder; 0 means unlimited.
	DiskMiB int64 `json:"diskMiB"`
	// Ports to publish; at least one.
	Ports []Port `json:"ports"`
	// Env is passed to the container, beside PRIMARY_PORT and SERVER_PORT.
	Env map[string]string `json:"env,omitempty"`
	// PrimaryPort is given to the server as PRIMARY_PORT and SERVER_PORT,
	// so it is the port the server listens on inside its container: one of
	// the Container ports in Ports.
	PrimaryPort int `json:"primaryPort"`
	// Startup overrides the image command when not empty (run by /bin/sh -c).
	Startup string `json:"startup,omitempty"`
	// StopCommand is written to stdin to stop, or "^SIGNAL"; empty is SIGTERM.
	StopCommand string `json:"stopCommand,omitempty"`
	// MountPath is where the data folder is mounted; empty is /home/container.
	MountPath string `json:"mountPath,omitempty"`
	// Desired is DesiredRunning or DesiredStopped.
	Desired string `json:"desired"`
	// Suspended instances are stopped and refuse every start.
	Suspended bool `json:"suspended"`
	// ReadyPatterns move the instance from starting to running when one
	// appears in its console output: a substring, or "regex:" and a Go
	// regular expression. Empty means running as soon as the process is.
	ReadyPatterns []string `json:"readyPatterns,omitempty"`
	// Install, when set, is a script run once before the first start, in
	// its own container with the data folder at /mnt/server and Env.
	Install *InstallSpec `json:"install,omitempty"`
	// Downloads are fetched into the data folder before the first start,
	// before Install runs.
	Downloads []Download `json:"downloads,omitempty"`
	// ConfigFiles are the game's configuration files the node rewrites in
	// the data folder before every start.
	ConfigFiles []ConfigFile `json:"configFiles,omitempty"`
	// FileDenylist holds gitignore-style patterns of paths in the data
	// folder the file API refuses to touch (403).
	FileDenylist []string `json:"fileDenylist,omitempty"`
}

// ConfigFile is one configuration file rewritten before every start.
type ConfigFile struct {
	// Path is relative to the data folder, clean, inside it.
	Path string `json:"path"`
	// Parser is one of configfiles.Parsers.
	Parser string `json:"parser"`
	// Replace lists the keys to set, in order.
	Replace []ConfigReplace `json:"replace"`
}

// ConfigReplace sets one key of a ConfigFile (see configfiles.Replacement).
type ConfigReplace struct {
	Match   string `json:"match"`
	IfValue string `json:"ifValue,omitempty"`
	// Value is a JSON string, number or boolean; a string's placeholders
	// are rendered by the node.
	Value json.RawMessage `json:"value"`
}

// InstallSpec is an instance's install script.
type InstallSpec struct {
	// Image is the Docker image the script runs in.
	Image string `json:"image"`
	// Entrypoint is the interpreter given the script, such as "bash".
	Entrypoint string `json:"entrypoint"`
	// Script is the script's text.
	Script string `json:"script"`
}

// Download is one file fetched into an instance's data folder.
type Download struct {
	// URL is where the file comes from; https only.
	URL string `json:"url"`
	// Path is where it goes: relative to the data folder, clean, inside it.
	Path string `json:"path"`
}

// InstanceStatus is the node's observation of one instance.
type InstanceStatus struct {
	ID          string `json:"id"`
	ContainerID string `json:"containerId,omitempty"`
	// Generation is the spec generation the node last applied.
	Generation int64     `json:"generation"`
	Status     string    `json:"status"`
	Running    bool      `json:"running"`
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled"`
	Suspended  bool      `json:"suspended"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	// Error is the last failure the node met applying the spec.
	Error string `json:"error,omitempty"`
	// Installing is true while the node downloads the spec's files or runs
	// its install script; Status is then StatusInstalling and the
	// instance's container does not exist yet.
	Installing bool `json:"installing,omitempty"`
	// InstallError says why the install failed: the download at fault, or
	// the script's exit code and the tail of its output. The instance is
	// not created; a spec of a later generation tries the install again.
	InstallError string `json:"installError,omitempty"`
}

// Health is the answer of GET /v1/health.
type Health struct {
	Version   string `json:"version"`
	Docker    bool   `json:"docker"`
	Instances int    `json:"instances"`
	// CPUs is the node's CPU cores, the most a deploy may ask for; an
	// older node leaves it out (0).
	CPUs int `json:"cpus,omitempty"`
	// SFTPPort is the port the node serves SFTP on; 0 when it serves none
	// (turned off, not configured for it, or an older node).
	SFTPPort int `json:"sftpPort,omitempty"`
}

// PowerRequest is the body of POST /v1/instances/{id}/power.
type PowerRequest struct {
	Action string `json:"action"`
	// Generation is the instance's generation once the panel recorded the
	// desire this action carries out. The node remembers the highest it
	// was sent and ignores an ensure of an older generation, so that a
	// reconciler pass already in flight cannot undo the action. Zero (a
	// caller that does not know) orders nothing.
	Generation int64 `json:"generation,omitempty"`
}

// Logs is the answer of GET /v1/instances/{id}/logs?tail=N.
type Logs struct {
	Lines []string `json:"lines"`
}

// ErrorBody is every non-2xx answer of the node API.
type ErrorBody struct {
	// Error says what went wrong, in words fit to show a user.
	Error string `json:"error"`
	// Kind is the fault.Kind of the error by name (fault.Kind.String):
	// "not_exist", "conflict", ... Older nodes send none; the client then
	// reads the kind from the status (fault.KindOfStatus).
	Kind string `json:"kind,omitempty"`
}

// ConfigureRequest is the body of the panel's POST /nodes/configure, sent by
// `berth node configure`. The key travels in the body, never in a URL.
type ConfigureRequest struct {
	ConfigureKey string `json:"configureKey"`
}

// ConfigureResponse hands the node its identity and its bearer token. The
// node keeps only the token's SHA-256; the panel keeps the token to call it.
// PanelToken goes the other way: the node keeps it to call the panel (SFTP
// sign-ins), and the panel keeps only its SHA-256.
type ConfigureResponse struct {
	NodeID     string `json:"nodeId"`
	Token      string `json:"token"`
	PanelToken string `json:"panelToken"`
	Address    string `json:"address"`
	Port       int    `json:"port"`
}
