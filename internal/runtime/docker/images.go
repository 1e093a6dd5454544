package docker

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// ensureImage makes ref present locally. An image already there is used as
// is, even when the registry has a newer one: nodes may have no registry.
func (r *Runtime) ensureImage(ctx context.Context, ref string, progress func(string)) error {
	_, err := r.cli.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return r.pullImage(ctx, ref, progress)
}

// pullImage pulls ref, reporting each progress message as a line. Any
// failure wraps runtime.ErrImage and carries the registry's message.
func (r *Runtime) pullImage(ctx context.Context, ref string, progress func(string)) error {
	failed := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("pull %s: %w", ref, ctx.Err())
		}
		return fmt.Errorf("%w: pull %s: %w", runtime.ErrImage, ref, err)
	}
	resp, err := r.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return failed(err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return failed(err)
		}
		if msg.Error != nil {
			return failed(msg.Error)
		}
		if line := pullLine(msg); line != "" && progress != nil {
			progress("pulling " + ref + ": " + line)
		}
	}
	// Some registries end a failed pull without an error message; the
	// image being there is the only proof of success.
	if _, err := r.cli.ImageInspect(ctx, ref); err != nil {
		return failed(fmt.Errorf("image absent after pull: %w", err))
	}
	return nil
}

// pullLine renders one pull message as "<status> [<layer>] [<done>/<total>]".
func pullLine(msg jsonstream.Message) string {
	parts := make([]string, 0, 3)
	for _, s := range []string{msg.Status, msg.ID} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if p := msg.Progress; p != nil && !p.HideCounts && p.Total > 0 {
		parts = append(parts, formatBytes(p.Current)+"/"+formatBytes(p.Total))
	}
	return strings.Join(parts, " ")
}

// formatBytes writes n in decimal units, as the Docker CLI shows pulls.
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	value, exp := float64(n)/unit, 0
	for value >= unit && exp < 4 {
		value /= unit
		exp++
	}
	return fmt.Sprintf("%.1f%cB", value, "kMGTP"[exp])
}
