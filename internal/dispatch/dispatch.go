// Package dispatch turns the panel's records into calls on a node's API,
// and a node's answers back into records: a client for a stored node, the
// spec an instance's node is asked to make true, and the part of a node's
// report the panel keeps. The reconciler and the panel's own power calls
// share it, so that neither depends on the other for it.
package dispatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// ClientFor returns a client for node n's API; tlsConfig verifies an
// HTTPS node (nil: the system's certificate authorities).
func ClientFor(n store.Node, tlsConfig *tls.Config) *nodeapi.Client {
	return nodeapi.NewClient(n.Scheme+"://"+n.Address+":"+strconv.Itoa(n.Port), n.Token, tlsConfig)
}

// Spec builds what in's node is asked to make true: the instance's own
// fields plus its template's environment, startup and stop command.
func Spec(ctx context.Context, st *store.Store, in store.Instance) (nodeapi.InstanceSpec, error) {
	spec := nodeapi.InstanceSpec{
		ID: in.ID, Generation: in.Generation, Image: in.Image, MemoryMiB: in.MemoryMiB, CPU: in.CPU,
		DiskMiB: in.DiskMiB, PrimaryPort: in.Primary.Container, Desired: in.Desired, Suspended: in.Suspended,
		Env: map[string]string{},
	}
	for _, b := range in.Ports {
		spec.Ports = append(spec.Ports, nodeapi.Port{Container: b.Container, Host: b.Host})
	}
	values := in.Variables
	if in.TemplateID != "" {
		row, err := st.TemplateByRef(ctx, in.TemplateID)
		if err != nil {
			return spec, &permanent{fmt.Errorf("image template %s: %w", in.TemplateID, err)}
		}
		t, err := images.Decode(row.Doc)
		if err != nil {
			return spec, &permanent{err}
		}
		for _, kv := range t.Env {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				spec.Env[k] = v
			}
		}
		// A template replaced since the deploy may declare variables the
		// instance has no value for: they take their defaults.
		values = t.WithDefaults(in.Variables)
		vars := images.Placeholders(values, in.MemoryMiB, in.Primary.Container)
		spec.Startup = images.Render(t.Startup, vars)
		spec.StopCommand = t.StopCommand
		spec.MountPath = t.MountPath
		spec.ReadyPatterns = t.ReadyPatterns
		if s := t.Scripts.Installer; s != nil {
			spec.Install = &nodeapi.InstallSpec{Image: s.Image, Entrypoint: s.Entrypoint, Script: s.Script}
		}
		downloads, err := t.RenderDownloads(values)
		if err != nil {
			return spec, &permanent{err}
		}
		for _, d := range downloads {
			spec.Downloads = append(spec.Downloads, nodeapi.Download{URL: d.URI, Path: d.Path})
		}
		spec.ConfigFiles = specConfigFiles(t.ConfigFiles)
		spec.FileDenylist = t.FileDenylist
		spec.Env[images.PlaceholderMemory] = vars[images.PlaceholderMemory]
		spec.Env[images.PlaceholderIP] = vars[images.PlaceholderIP]
	}
	for k, v := range values {
		spec.Env[k] = v
	}
	if spec.Startup != "" {
		spec.Env["STARTUP"] = spec.Startup
	}
	return spec, nil
}

// specConfigFiles is a template's config files in the protocol's terms;
// their placeholders are the node's to render, at each start.
func specConfigFiles(list []images.ConfigFile) []nodeapi.ConfigFile {
	var out []nodeapi.ConfigFile
	for _, f := range list {
		nf := nodeapi.ConfigFile{Path: f.Path, Parser: f.Parser}
		for _, r := range f.Replace {
			nf.Replace = append(nf.Replace, nodeapi.ConfigReplace{Match: r.Match, IfValue: r.IfValue, Value: r.Value})
		}
		out = append(out, nf)
	}
	return out
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }

// IsPermanent reports whether err, from Spec, is one that retrying cannot
// fix: the instance's template is gone or does not render.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// Observation is the part of a node's report the panel keeps.
func Observation(st nodeapi.InstanceStatus) store.Observation {
	return store.Observation{Status: st.Status, ContainerID: st.ContainerID, ExitCode: st.ExitCode,
		OOMKilled: st.OOMKilled, Error: st.Error}
}
