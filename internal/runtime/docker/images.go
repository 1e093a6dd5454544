package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/netguard"
	"github.com/berth-dev/berth/internal/runtime"
)

// Reasons an image is unavailable, as users read them after "image x".
const (
	reasonNotFound = "not found in any reachable registry"
	reasonInvalid  = "is not a valid image reference"
)

// ensureImage makes ref present locally. An image already there is used as
// is, even when the registry has a newer one: nodes may have no registry.
// Otherwise its registry must be at a public address, unless the node
// allows private ones, before it is pulled.
func (r *Runtime) ensureImage(ctx context.Context, ref string, progress func(string)) error {
	_, err := r.cli.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		if cerrdefs.IsInvalidArgument(err) {
			r.log.Warn("image reference refused", "image", ref, "err", err)
			return &runtime.ImageError{Image: ref, Reason: reasonInvalid}
		}
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if err := r.checkRegistry(ctx, ref); err != nil {
		return err
	}
	return r.pullImage(ctx, ref, progress)
}

// pullImage pulls ref, reporting each progress message as a line. Any
// failure is a *runtime.ImageError in words for users; the engine's own,
// which name the node's requests and DNS server, are logged.
func (r *Runtime) pullImage(ctx context.Context, ref string, progress func(string)) error {
	failed := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("pull %s: %w", ref, ctx.Err())
		}
		r.log.Warn("image pull failed", "image", ref, "err", err)
		reason := reasonNotFound
		if cerrdefs.IsInvalidArgument(err) {
			reason = reasonInvalid
		}
		return &runtime.ImageError{Image: ref, Reason: reason}
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

// checkRegistry refuses ref when its registry's host is, or resolves to,
// an address that is not public, unless the node allows private
// registries: a template must not make the node's engine send requests to
// the node's own network. The engine looks the name up again when it
// pulls, so a registry's DNS could still answer otherwise then; the check
// stops templates naming private registries, not a hostile DNS server.
func (r *Runtime) checkRegistry(ctx context.Context, ref string) error {
	if r.allowPrivateRegistries {
		return nil
	}
	host, ok := registryHost(ref)
	if !ok {
		// Docker Hub, whose address is no template's to choose.
		return nil
	}
	refuse := func(why string) error {
		return &runtime.ImageError{Image: ref,
			Reason: "refused: its registry " + why + " (the node operator may allow it with BERTH_ALLOW_PRIVATE_REGISTRIES)"}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !netguard.IsPublic(ip) {
			return refuse(host + " is not a public address")
		}
		return nil
	}
	addrs, err := r.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("look up registry %s: %w", host, ctx.Err())
		}
		r.log.Warn("image registry lookup failed", "image", ref, "host", host, "err", err)
		return &runtime.ImageError{Image: ref, Reason: reasonNotFound}
	}
	if len(addrs) == 0 {
		return &runtime.ImageError{Image: ref, Reason: reasonNotFound}
	}
	for _, ip := range addrs {
		if !netguard.IsPublic(ip) {
			return refuse(fmt.Sprintf("%s resolves to %s, which is not a public address", host, ip))
		}
	}
	return nil
}

// registryHost reads the registry host of an image reference as Docker
// does: the first path component is a host when it holds a '.' or a ':',
// is "localhost", or has an upper-case letter (which a repository name
// cannot); otherwise the image is on Docker Hub and ok is false. A port
// and an IPv6 literal's brackets are removed.
func registryHost(ref string) (host string, ok bool) {
	first, _, found := strings.Cut(ref, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first) {
		return "", false
	}
	if h, _, err := net.SplitHostPort(first); err == nil {
		return h, true
	}
	return strings.TrimSuffix(strings.TrimPrefix(first, "["), "]"), true
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
