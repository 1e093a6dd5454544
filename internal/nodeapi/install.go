package nodeapi

import (
	"context"
	"net/http"
)

// InstallLog is the answer of GET /v1/instances/{id}/install-log?tail=N:
// the output of the instance's latest install (downloads and script), as
// the node keeps it outside the instance's data folder.
type InstallLog struct {
	// Lines are the last lines of the log, oldest first; empty before any
	// install ran.
	Lines []string `json:"lines"`
	// Installing is true while the install runs; the log is still growing.
	Installing bool `json:"installing"`
	// Installed is true once an install succeeded.
	Installed bool `json:"installed"`
	// Error is the failure of the latest install, as InstanceStatus shows it.
	Error string `json:"error,omitempty"`
}

// DefaultInstallLogTail is the tail an install-log request gets when it
// names none: the whole log of most installs.
const DefaultInstallLogTail = MaxLogTail

// InstallLog returns up to tail of the last lines of the instance's
// install log; tail <= 0 asks for DefaultInstallLogTail.
func (c *Client) InstallLog(ctx context.Context, id string, tail int) (InstallLog, error) {
	return callInstance[InstallLog](ctx, c, logsTimeout, http.MethodGet, id, "/install-log"+tailQuery(tail), nil)
}
