// Package config reads Berth's settings from flags, each of which has an
// environment variable (BERTH_<NAME>) that supplies its default. Flags win
// over the environment, and the environment over the built-in default.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Built-in defaults (DESIGN.md §1).
const (
	DefaultListen = "127.0.0.1:8080"
	DefaultData   = "./berth-data"
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
}

// BindPanel registers the panel's flags on fs.
func BindPanel(fs *flag.FlagSet, p *Panel) {
	fs.StringVar(&p.Listen, "listen", Env("BERTH_LISTEN", DefaultListen), "address to serve the API on (BERTH_LISTEN)")
	BindData(fs, &p.Data)
	BindDatabase(fs, &p.DatabaseURL)
	fs.StringVar(&p.APICompat, "api-compat", Env("BERTH_API_COMPAT", "seed"), "status codes: seed or skyport-0.3 (BERTH_API_COMPAT)")
	fs.StringVar(&p.PublicURL, "public-url", Env("BERTH_PUBLIC_URL", ""), "the panel's URL as nodes reach it (BERTH_PUBLIC_URL)")
	fs.DurationVar(&p.InstallTimeout, "install-timeout", EnvDuration("BERTH_INSTALL_TIMEOUT", 15*time.Minute),
		"how long a deploy may stay INSTALLING (BERTH_INSTALL_TIMEOUT)")
	fs.StringVar(&p.NodeCA, "node-ca", Env("BERTH_NODE_CA", ""),
		"PEM file of the certificate authorities of HTTPS nodes; default: the system's (BERTH_NODE_CA)")
	fs.Int64Var(&p.MaxUploadMiB, "max-upload-mib", EnvInt64("BERTH_MAX_UPLOAD_MIB", 1024),
		"cap in MiB on the body of one file upload (BERTH_MAX_UPLOAD_MIB)")
}

// BindData registers -data.
func BindData(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "data", Env("BERTH_DATA", DefaultData), "data folder (BERTH_DATA)")
}

// BindDatabase registers -database.
func BindDatabase(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "database", Env("BERTH_DATABASE_URL", ""),
		"database URL: empty for SQLite in the data folder, or postgres://... (BERTH_DATABASE_URL)")
}

// Env returns the environment variable name, or def when it is unset.
func Env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// EnvDuration is Env for durations; an unparsable value keeps def, and the
// flag package reports it when the flag itself is given.
func EnvDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// EnvInt64 is Env for whole numbers; an unparsable value keeps def.
func EnvInt64(name string, def int64) int64 {
	if v, ok := os.LookupEnv(name); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
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
