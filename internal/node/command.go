package node

import (
	"errors"
	"net/http"

	"github.com/berth-dev/berth/internal/node/console"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// handleCommand is POST /v1/instances/{id}/command: one line typed on the
// instance's console without a WebSocket, for the panel's schedules. It
// takes the console's own path (supervisor.command), so a line reaches the
// game exactly as one typed in a browser would, under the same rules.
func (d *Daemon) handleCommand(w http.ResponseWriter, r *http.Request) error {
	id, _, err := d.storedInstance(r)
	if err != nil {
		return err
	}
	var req nodeapi.CommandRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := console.CheckCommand(req.Command); err != nil {
		return &nodeapi.FieldError{Field: "command", Rule: err.Error()}
	}
	err = d.sups.get(id).command(req.Command)
	switch {
	case errors.Is(err, errCommandSuspended):
		return &apiError{http.StatusConflict, errCommandSuspended.Error()}
	case errors.Is(err, errNotRunning):
		return &apiError{http.StatusConflict, errNotRunning.Error()}
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
