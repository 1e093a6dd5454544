// Package install carries out an instance's install: the downloads its
// template asks for and its install script, run once before the instance's
// container is first created, each install in a goroutine of its own, with
// its output in a capped log kept beside the instance's record.
package install

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/node/download"
	"github.com/berth-dev/berth/internal/node/volumes"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// Config tunes installs: downloads and install scripts.
type Config struct {
	// AllowPrivateDownloads lets downloads reach private, loopback,
	// link-local and other non-public addresses. Off by default: a template
	// could otherwise make the node fetch from its own network, the cloud
	// metadata service included (BERTH_ALLOW_PRIVATE_DOWNLOADS).
	AllowPrivateDownloads bool
	// MaxFileBytes caps one download; 0 means download.DefaultMaxFileBytes.
	MaxFileBytes int64
	// MaxTotalBytes caps all the downloads of one install together; 0
	// means download.DefaultMaxTotalBytes.
	MaxTotalBytes int64
	// RootCAs, when set, are the only certificate authorities downloads
	// trust; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds one install, downloads and script together; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MinMemoryMiB is the least memory an install script gets whatever the
	// instance's own limit, since installers (package managers, unzip)
	// often need more than the server; 0 means DefaultMinMemoryMiB.
	MinMemoryMiB int64
}

// Defaults of the Config fields left zero; the download caps default to
// download.DefaultMaxFileBytes and download.DefaultMaxTotalBytes.
const (
	DefaultTimeout      = time.Hour
	DefaultMinMemoryMiB = 1024
)

// Downloads is the downloader's part of c.
func (c Config) Downloads() download.Config {
	return download.Config{AllowPrivate: c.AllowPrivateDownloads, MaxFileBytes: c.MaxFileBytes,
		MaxTotalBytes: c.MaxTotalBytes, RootCAs: c.RootCAs}
}

// RunTimeout is how long one install may take.
func (c Config) RunTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c Config) minMemoryMiB() int64 {
	if c.MinMemoryMiB > 0 {
		return c.MinMemoryMiB
	}
	return DefaultMinMemoryMiB
}

// Limits of the install log and of the failure reason taken from it.
const (
	// maxInstallLogBytes caps the log file; output past it is dropped.
	maxInstallLogBytes = 8 << 20
	// installErrorLines is how many of the log's last lines a failure
	// carries, and installErrorBytes how long that tail may be.
	installErrorLines = 20
	installErrorBytes = 4 << 10
)

// Needed reports whether spec has anything to install.
func Needed(spec nodeapi.InstanceSpec) bool {
	return spec.Install != nil || len(spec.Downloads) > 0
}

// Runner runs installs: it fetches a spec's downloads into the instance's
// data folder, runs its script in a container of its own, and gives the
// folder to the container user, logging each step to the install log.
type Runner struct {
	Runtime runtime.Runtime
	Volumes volumes.Volumes
	Logs    Logs
	Config  Config
}

// Run fetches spec's downloads and runs its script, logging both to
// the install log; rs is the instance's runtime spec, whose environment
// and data folder the script gets. It returns why the install failed, or "" when it
// succeeded or ctx ended.
func (r Runner) Run(ctx context.Context, spec nodeapi.InstanceSpec, rs runtime.Spec) (failure string) {
	id := spec.ID
	logFile, err := r.Logs.create(id)
	if err != nil {
		return "open install log: " + err.Error()
	}
	defer logFile.Close()
	out := &cappedWriter{w: logFile, left: maxInstallLogBytes}
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "[berth] "+format+"\n", args...)
	}
	logf("install of %s (generation %d) started at %s", id, spec.Generation, time.Now().UTC().Format(time.RFC3339))
	if err := r.Volumes.Create(id); err != nil {
		logf("data folder: %v", err)
		return "data folder: " + err.Error()
	}

	if len(spec.Downloads) > 0 {
		if err := r.download(ctx, id, spec.Downloads, logf); err != nil {
			if ctx.Err() != nil {
				return ""
			}
			logf("install failed: %v", err)
			return err.Error()
		}
	}

	if spec.Install != nil {
		job := runtime.InstallJob{
			InstanceID: id,
			Image:      spec.Install.Image,
			Entrypoint: spec.Install.Entrypoint,
			Script:     strings.ReplaceAll(spec.Install.Script, "\r\n", "\n"),
			Env:        rs.Env,
			DataDir:    rs.DataDir,
			MemoryMiB:  max(spec.MemoryMiB, r.Config.minMemoryMiB()),
			CPU:        max(spec.CPU, 1),
		}
		logf("running the install script in %s with %s", job.Image, strings.Join(runtime.InstallCommand(job.Entrypoint), " "))
		code, err := r.Runtime.RunInstall(ctx, job, out)
		if err != nil {
			if ctx.Err() != nil {
				return ""
			}
			logf("install failed: %v", err)
			return "install script: " + err.Error()
		}
		if code != 0 {
			tail := r.Logs.failureTail(id, installErrorLines)
			logf("install script exited with code %d", code)
			return fmt.Sprintf("install script exited with code %d; last output:\n%s", code, tail)
		}
		logf("install script exited with code 0")
	}
	// The script ran as root, and the downloads were made by the node:
	// everything goes to the user the instance runs as.
	if err := r.Volumes.ChownAll(ctx, id); err != nil {
		if ctx.Err() != nil {
			return ""
		}
		logf("install failed: give the data folder to the container user %s: %v", r.Volumes.Owner(), err)
		return fmt.Sprintf("give the data folder to the container user %s: %v", r.Volumes.Owner(), err)
	}
	logf("install finished")
	return ""
}

// download fetches list into the instance's data folder.
func (r Runner) download(ctx context.Context, id string, list []nodeapi.Download, logf func(string, ...any)) error {
	root, err := r.Volumes.Open(id)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	defer root.Close()
	owner := r.Volumes.Owner()
	return download.All(ctx, root, list, r.Config.Downloads(), &owner, logf)
}
