// Package config reads Berth's settings from flags, each of which has an
// environment variable (BERTH_<NAME>, named in its usage) that ApplyEnv
// reads. Flags win over the environment, and the environment over the
// built-in default.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Built-in defaults (DESIGN.md §1).
const (
	DefaultListen = "127.0.0.1:8080"
	DefaultData   = "./berth-data"
	// DefaultBackupLimit is -default-backup-limit's default.
	DefaultBackupLimit = 3
)

// Panel is the panel's configuration.
type Panel struct {
	// Listen is the address the API serves on.
	Listen string
	// Data is the data folder: the SQLite database and, for `berth up`,
	// the local node's files.
	Data string
	// DatabaseURL selects the database: empty is SQLite in Data, and a
	// postgres:// URL is PostgreSQL.
	DatabaseURL string
	// APICompat is the status-code mode: "seed" or "skyport-0.3".
	APICompat string
	// PublicURL is how nodes reach the panel, for configure commands.
	PublicURL string
	// InstallTimeout fails a deploy that has not become READY in time.
	InstallTimeout time.Duration
	// MaxUploadMiB caps the body of one file upload through the panel.
	MaxUploadMiB int64
	// NodeCA is a PEM file of the certificate authorities that sign the
	// certificates of HTTPS nodes; empty trusts the system's.
	NodeCA string
	// SessionIdle ends a user's session unused for this long.
	SessionIdle time.Duration
	// SessionMax ends a user's session this long after sign-in.
	SessionMax time.Duration
	// Require2FAAdmins makes two-factor mandatory for admin users.
	Require2FAAdmins bool
	// MetricsListen is the address of the Prometheus metrics' own
	// listener; empty serves none.
	MetricsListen string
	// AllowPrivateWebhooks lets webhooks reach private, loopback and
	// link-local addresses, for tests and homelabs.
	AllowPrivateWebhooks bool
	// DefaultBackupLimit is the backupLimit of an instance whose deploy
	// names none; 0 allows no backups.
	DefaultBackupLimit int
}

// BindPanel registers the panel's flags on fs.
func BindPanel(fs *flag.FlagSet, p *Panel) {
	fs.StringVar(&p.Listen, "listen", DefaultListen, "address to serve the API on (BERTH_LISTEN)")
	BindData(fs, &p.Data)
	BindDatabase(fs, &p.DatabaseURL)
	fs.StringVar(&p.APICompat, "api-compat", "seed", "status codes: seed or skyport-0.3 (BERTH_API_COMPAT)")
	fs.StringVar(&p.PublicURL, "public-url", "", "the panel's URL as nodes reach it (BERTH_PUBLIC_URL)")
	fs.DurationVar(&p.InstallTimeout, "install-timeout", 15*time.Minute,
		"how long a deploy may stay INSTALLING (BERTH_INSTALL_TIMEOUT)")
	fs.StringVar(&p.NodeCA, "node-ca", "",
		"PEM file of the certificate authorities of HTTPS nodes; default: the system's (BERTH_NODE_CA)")
	fs.Int64Var(&p.MaxUploadMiB, "max-upload-mib", 1024,
		"cap in MiB on the body of one file upload (BERTH_MAX_UPLOAD_MIB)")
	fs.DurationVar(&p.SessionIdle, "session-idle", 12*time.Hour,
		"a user's session ends when unused for this long (BERTH_SESSION_IDLE)")
	fs.DurationVar(&p.SessionMax, "session-max", 30*24*time.Hour,
		"a user's session ends this long after sign-in, used or not (BERTH_SESSION_MAX)")
	fs.IntVar(&p.DefaultBackupLimit, "default-backup-limit", DefaultBackupLimit,
		"how many backups an instance may hold when its deploy names no backupLimit; 0 allows none (BERTH_DEFAULT_BACKUP_LIMIT)")
	fs.BoolVar(&p.Require2FAAdmins, "require-2fa-admins", false,
		"admin users must turn on two-factor before they can do anything else (BERTH_REQUIRE_2FA_ADMINS)")
	fs.BoolVar(&p.AllowPrivateWebhooks, "allow-private-webhooks", false,
		"let webhooks reach private, loopback and link-local addresses (BERTH_ALLOW_PRIVATE_WEBHOOKS)")
	BindMetrics(fs, &p.MetricsListen)
}

// BindMetrics registers -metrics-listen, for the panel, the node and `berth
// up`.
func BindMetrics(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "metrics-listen", "",
		"address to serve Prometheus metrics on, at /metrics, apart from the API; empty: none (BERTH_METRICS_LISTEN)")
}

// BindData registers -data.
func BindData(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "data", DefaultData, "data folder (BERTH_DATA)")
}

// BindDatabase registers -database.
func BindDatabase(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "database", "",
		"database URL: empty for SQLite in the data folder, or postgres://... (BERTH_DATABASE_URL)")
}

// envInUsage finds the variable a flag's usage names: "(BERTH_X)" or
// "(BERTH_X; ...)". The help text is where a user learns the name, so it
// is the one place that states it.
var envInUsage = regexp.MustCompile(`\((BERTH_[A-Z0-9_]+)[;)]`)

// ApplyEnv gives each flag of fs that the command line left unset the
// value of the environment variable its usage names, when that is set.
// The value goes through the flag's own parser, so a variable that does
// not parse is refused as the flag would be, never replaced by the
// default. Call it after fs.Parse.
func ApplyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		m := envInUsage.FindStringSubmatch(f.Usage)
		if m == nil || set[f.Name] {
			return
		}
		v, ok := os.LookupEnv(m[1])
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q (-%s): %w", m[1], v, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// AbsData makes the data folder absolute and creates it, private to the
// user that runs Berth.
func AbsData(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	return abs, nil
}

// NodeTLS returns the TLS settings the panel verifies HTTPS nodes with:
// nil (the system's authorities) when caFile is empty.
func NodeTLS(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("node-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("node-ca: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
