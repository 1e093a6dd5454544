package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// bindInstallFlags registers the flags of a node's installs on fs, for
// every command that runs a node: `berth node`, `berth up` and `berth
// image test`. Sizes are in MiB.
func bindInstallFlags(fs *flag.FlagSet, cfg *node.InstallConfig) {
	fs.BoolVar(&cfg.AllowPrivateDownloads, "allow-private-downloads", false,
		"let templates download from private, loopback and link-local addresses (BERTH_ALLOW_PRIVATE_DOWNLOADS)")
	fs.Func("download-max-mib", "cap on one download in MiB (BERTH_DOWNLOAD_MAX_MIB; default 1024)",
		mibSetter(&cfg.MaxFileBytes))
	fs.Func("downloads-total-max-mib", "cap on all the downloads of one install in MiB (BERTH_DOWNLOADS_TOTAL_MAX_MIB; default 4096)",
		mibSetter(&cfg.MaxTotalBytes))
}

// runtimeSettings are the Docker runtime's flags, for every command that
// runs a node.
type runtimeSettings struct {
	allowPrivateRegistries bool
	allowHostAccess        bool
}

// bindRuntimeFlags registers the Docker runtime's flags on fs.
func bindRuntimeFlags(fs *flag.FlagSet, s *runtimeSettings) {
	fs.BoolVar(&s.allowPrivateRegistries, "allow-private-registries", false,
		"let templates' images come from registries at private, loopback and link-local addresses (BERTH_ALLOW_PRIVATE_REGISTRIES)")
	fs.BoolVar(&s.allowHostAccess, "allow-instance-host-access", false,
		"let instances open connections to this machine's own addresses and the link-local range, cloud metadata included (BERTH_ALLOW_INSTANCE_HOST_ACCESS)")
}

// newRuntime connects to the Docker engine as the runtime of the node whose
// data folder is dir: labelled with the node's ID, so that it manages only
// its own containers, and logging what users are not shown to log.
func (s runtimeSettings) newRuntime(ctx context.Context, dir string, log *slog.Logger) (*docker.Runtime, error) {
	file, err := node.ReadConfigFile(dir)
	if err != nil {
		return nil, err
	}
	rt, err := docker.New(ctx,
		docker.WithNodeID(file.NodeID),
		docker.WithLogger(log),
		docker.AllowPrivateRegistries(s.allowPrivateRegistries),
		docker.AllowHostAccess(s.allowHostAccess))
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	if s.allowHostAccess {
		log.Warn("instances may open connections to this machine and the link-local range (allow-instance-host-access)")
	}
	return rt, nil
}

// open is newRuntime as an openRuntime.
func (s runtimeSettings) open(ctx context.Context, dir string, log *slog.Logger) (runtime.Runtime, func() error, error) {
	rt, err := s.newRuntime(ctx, dir, log)
	if err != nil {
		return nil, nil, err
	}
	return rt, rt.Close, nil
}

// mibSetter parses a positive number of MiB into dst, in bytes.
func mibSetter(dst *int64) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 1<<40 {
			return errors.New("must be a whole number of MiB, at least 1")
		}
		*dst = n << 20
		return nil
	}
}

// bindContainerUserFlag registers -container-user on fs, for `berth node`
// and `berth up`. A bad value, flag or BERTH_CONTAINER_USER, is refused at
// parsing, never replaced by the default, since it decides who owns the
// instances' files.
func bindContainerUserFlag(fs *flag.FlagSet, dst *string) {
	*dst = node.DefaultContainerUser
	fs.Func("container-user", "numeric uid:gid every instance runs as and owns its files as; 0:0 (root) only if you mean it (BERTH_CONTAINER_USER; default "+node.DefaultContainerUser+")",
		func(s string) error {
			if err := node.ParseContainerUser(s); err != nil {
				return err
			}
			*dst = s
			return nil
		})
}

// nodeSettings are the daemon settings that `berth node` and `berth up`
// both take as flags, over what node.json says.
type nodeSettings struct {
	install       node.InstallConfig
	files         node.FilesConfig
	backupS3      node.BackupS3Config
	containerUser string
	runtime       runtimeSettings
}

// bindNodeFlags registers the daemon's flags on fs.
func bindNodeFlags(fs *flag.FlagSet) *nodeSettings {
	s := &nodeSettings{}
	bindInstallFlags(fs, &s.install)
	bindFilesFlags(fs, &s.files)
	bindBackupFlags(fs, &s.backupS3)
	bindContainerUserFlag(fs, &s.containerUser)
	bindRuntimeFlags(fs, &s.runtime)
	return s
}

// apply puts the settings, and the binary's version, into cfg.
func (s *nodeSettings) apply(cfg *node.Config) {
	cfg.Version = Version
	cfg.Install = s.install
	cfg.Files = s.files
	cfg.BackupS3 = s.backupS3
	backupCredentials(&cfg.BackupS3)
	cfg.ContainerUser = s.containerUser
}
