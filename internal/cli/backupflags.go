package cli

import (
	"flag"
	"os"

	"github.com/berth-dev/berth/internal/node"
)

// The environment variables that carry the bucket's credentials. They are
// never flags: a command line is readable by every user of the machine.
const (
	envBackupS3AccessKey = "BERTH_BACKUP_S3_ACCESS_KEY"
	envBackupS3SecretKey = "BERTH_BACKUP_S3_SECRET_KEY"
)

// bindBackupFlags registers the flags of where a node keeps its backups
// on fs, for every command that runs a node: `berth node` and `berth up`.
func bindBackupFlags(fs *flag.FlagSet, cfg *node.BackupS3Config) {
	fs.StringVar(&cfg.Endpoint, "backup-s3-endpoint", "",
		"host[:port] of an S3-compatible API to keep backups in, instead of the node's disk; credentials from "+
			envBackupS3AccessKey+" and "+envBackupS3SecretKey+" (BERTH_BACKUP_S3_ENDPOINT)")
	fs.StringVar(&cfg.Bucket, "backup-s3-bucket", "", "the bucket backups go to (BERTH_BACKUP_S3_BUCKET)")
	fs.StringVar(&cfg.Region, "backup-s3-region", "", "the bucket's region; empty asks the server (BERTH_BACKUP_S3_REGION)")
	fs.BoolVar(&cfg.Insecure, "backup-s3-insecure", false, "talk plain HTTP to the S3 endpoint (BERTH_BACKUP_S3_INSECURE)")
	fs.Func("backup-s3-part-mib", "size in MiB of each part of a backup's upload, the memory one upload buffers; at least 5 (BERTH_BACKUP_S3_PART_MIB; default 64)",
		mibSetter(&cfg.PartSize))
}

// backupCredentials fills in the bucket's credentials from the
// environment.
func backupCredentials(cfg *node.BackupS3Config) {
	cfg.AccessKey = os.Getenv(envBackupS3AccessKey)
	cfg.SecretKey = os.Getenv(envBackupS3SecretKey)
}
