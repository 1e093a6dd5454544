package cli

import (
	"flag"

	"github.com/berth-dev/berth/internal/node"
)

// bindFilesFlags registers the flags of a node's file API and disk checks
// on fs, for every command that runs a node: `berth node` and `berth up`.
func bindFilesFlags(fs *flag.FlagSet, cfg *node.FilesConfig) {
	fs.DurationVar(&cfg.DiskCheckInterval, "disk-check-interval", node.DefaultDiskCheckInterval,
		"how often running instances' data folders are measured against their disk limits; negative turns it off (BERTH_DISK_CHECK_INTERVAL)")
}
