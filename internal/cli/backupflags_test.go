package cli

import (
	"io"
	"testing"

	"github.com/berth-dev/berth/internal/node"
)

func TestBackupFlagsTakeTheBucketFromFlagsAndTheKeysFromTheEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want node.BackupS3Config
		err  bool
	}{
		{name: "none", want: node.BackupS3Config{}},
		{
			name: "flags and keys",
			env:  map[string]string{"BERTH_BACKUP_S3_ACCESS_KEY": "ak", "BERTH_BACKUP_S3_SECRET_KEY": "sk"},
			args: []string{"-backup-s3-endpoint", "s3.example.com:9000", "-backup-s3-bucket", "b", "-backup-s3-region", "eu", "-backup-s3-insecure", "-backup-s3-part-mib", "8"},
			want: node.BackupS3Config{Endpoint: "s3.example.com:9000", Bucket: "b", Region: "eu", Insecure: true, PartSize: 8 << 20, AccessKey: "ak", SecretKey: "sk"},
		},
		{
			name: "environment",
			env:  map[string]string{"BERTH_BACKUP_S3_ENDPOINT": "s3.example.com", "BERTH_BACKUP_S3_BUCKET": "b"},
			want: node.BackupS3Config{Endpoint: "s3.example.com", Bucket: "b"},
		},
		{name: "part size not a number", args: []string{"-backup-s3-part-mib", "big"}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"BERTH_BACKUP_S3_ACCESS_KEY", "BERTH_BACKUP_S3_SECRET_KEY", "BERTH_BACKUP_S3_ENDPOINT", "BERTH_BACKUP_S3_BUCKET"} {
				t.Setenv(name, tt.env[name])
			}
			fs := newFlags("node")
			fs.SetOutput(io.Discard)
			s := bindNodeFlags(fs)
			err := parse(fs, tt.args)
			if (err != nil) != tt.err {
				t.Fatalf("parse: %v, want error %v", err, tt.err)
			}
			if tt.err {
				return
			}
			var cfg node.Config
			s.apply(&cfg)
			if cfg.BackupS3 != tt.want {
				t.Errorf("BackupS3 = %+v, want %+v", cfg.BackupS3, tt.want)
			}
		})
	}
	if fs := newFlags("node"); bindNodeFlags(fs) != nil && (fs.Lookup("backup-s3-access-key") != nil || fs.Lookup("backup-s3-secret-key") != nil) {
		t.Error("the bucket's keys can be given as flags, on a command line every user can read")
	}
}
