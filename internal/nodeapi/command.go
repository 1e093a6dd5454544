package nodeapi

import (
	"context"
	"net/http"
)

// CommandRequest is the body of POST /v1/instances/{id}/command: one line
// typed on the instance's console, as a schedule's command task sends it.
type CommandRequest struct {
	Command string `json:"command"`
}

// SendCommand types one line on the instance's console. The node answers
// 204 once the line is written to the game's input, 409 when the instance
// is suspended or not running, and 400 for a line the console would refuse.
func (c *Client) SendCommand(ctx context.Context, id, command string) error {
	p, err := instancePath(id, "/command")
	if err != nil {
		return err
	}
	return c.call(ctx, readTimeout, http.MethodPost, p, CommandRequest{Command: command}, nil)
}
