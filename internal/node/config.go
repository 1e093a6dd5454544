package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/node/volumes"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/secret"
)

// ConfigFileName is the node's identity file inside its data folder.
const ConfigFileName = "node.json"

// ConfigFile is the content of <dir>/node.json: who this node is, as the
// panel registered it. Configure writes it; LoadConfig reads it.
type ConfigFile struct {
	// PanelURL is the panel this node was configured from.
	PanelURL string `json:"panelURL"`
	// NodeID is the panel's ID for this node.
	NodeID string `json:"nodeId"`
	// TokenSHA256 is the hex SHA-256 of the panel's bearer token. The token
	// itself is never stored on the node: a stolen node.json cannot call it.
	TokenSHA256 string `json:"tokenSHA256"`
	// Address and Port are where the panel reaches this node; the daemon
	// listens there.
	Address string `json:"address"`
	Port    int    `json:"port"`
	// TLSCert and TLSKey are PEM files, relative to the data folder unless
	// absolute. When both are set the API is served over HTTPS.
	TLSCert string `json:"tlsCert,omitempty"`
	TLSKey  string `json:"tlsKey,omitempty"`
	// PanelToken is the token this node calls the panel with (SFTP
	// sign-ins), kept as is since the node must present it; the file is
	// 0600. Empty for a node configured before there was one.
	PanelToken string `json:"panelToken,omitempty"`
}

// Config is everything New needs to run a daemon.
type Config struct {
	// Dir is the node's data folder: node.json, instances/ (specs),
	// backups/ (the backups' records and the archives kept on disk) and
	// volumes/ (the instances' data folders).
	Dir string
	// TokenSHA256 is the hex SHA-256 of the bearer token the panel sends.
	TokenSHA256 string
	// Listen is the host:port the API listens on (used by Run).
	Listen string
	// SFTPListen is the host:port SFTP listens on; "" or SFTPOff turns
	// SFTP off.
	SFTPListen string
	// PanelURL and PanelToken are how the node calls the panel, which
	// SFTP needs; without them SFTP is off.
	PanelURL   string
	PanelToken string
	// TLSCert and TLSKey are PEM file paths; when both are set the API is
	// served over HTTPS with TLS 1.2 or later.
	TLSCert string
	TLSKey  string
	// Version is reported by GET /v1/health.
	Version string
	// StopTimeout is how long a stop waits after the stop command before
	// the container is killed. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// ShutdownTimeout bounds how long Run lets in-flight requests finish
	// once its context is done. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ContainerUser is the numeric "uid:gid" every instance's container
	// runs as; the node gives the data folders, what installs leave in
	// them and what the file API creates to it, so that the game can use
	// its files without any capability. Empty means DefaultContainerUser;
	// root ("0:0") is allowed only when asked for, with a warning.
	ContainerUser string
	// Install tunes installs: downloads and install scripts.
	Install InstallConfig
	// Files tunes the file API and the disk limit's periodic check.
	Files FilesConfig
	// CrashWindow is the crash-loop guard: an instance that crashes again
	// within this long of its last crash is not restarted automatically.
	// Zero means DefaultCrashWindow.
	CrashWindow time.Duration
	// RestartDelay is the wait before restarting a crashed instance; it
	// doubles with each crash in a row, up to MaxRestartDelay. Zero means
	// DefaultRestartDelay.
	RestartDelay time.Duration
	// ConsoleLines is how many output lines each instance keeps for the
	// replay a console client gets on connecting, within the console's
	// byte budget (package console). Zero means DefaultConsoleLines.
	ConsoleLines int
	// ConsoleLineRate is the output lines per second an instance may send
	// to its console clients; past it, lines are dropped, with one notice,
	// until the rate falls. Zero means DefaultConsoleLineRate.
	ConsoleLineRate int
	// ConsoleByteRate is the output bytes per second an instance may send
	// to its console clients, throttled as ConsoleLineRate is. Zero means
	// DefaultConsoleByteRate.
	ConsoleByteRate int
	// ConsoleCommandRate caps the messages (commands) per
	// second of one console connection. Zero means
	// DefaultConsoleCommandRate.
	ConsoleCommandRate int
	// Now is the daemon's clock, for the rates it enforces (the console's
	// throttle and command rate, archive extractions); nil means
	// time.Now. Tests set it to move time without waiting.
	Now func() time.Time
	// ConsoleConnections caps the console connections of one instance.
	// Zero means DefaultConsoleConnections.
	ConsoleConnections int
	// BackupS3 is the S3-compatible bucket backups go to; without an
	// endpoint they stay on the node's disk, in <Dir>/backups.
	BackupS3 BackupS3Config
	// KeepStats streams every instance's resource use from the runtime all
	// the time, so that Usage has a recent sample of each for the metrics;
	// otherwise an instance's stats stream only while a console is open.
	KeepStats bool
}

// DefaultContainerUser is the user and group instances run as when the
// node is given none (volumes.DefaultUser).
const DefaultContainerUser = volumes.DefaultUser

// ParseContainerUser checks a container user written "uid:gid", both
// numeric (volumes.ParseOwner). Root ("0:0") is accepted, since an
// operator may ask for it; New warns.
func ParseContainerUser(s string) error {
	_, err := volumes.ParseOwner(s)
	return err
}

// Defaults for the Config durations left zero.
const (
	DefaultStopTimeout     = 30 * time.Second
	DefaultShutdownTimeout = time.Minute
	DefaultCrashWindow     = time.Minute
	DefaultRestartDelay    = 2 * time.Second
	// MaxRestartDelay caps the growing wait before a crash restart.
	MaxRestartDelay = 5 * time.Minute
)

// Defaults for the console limits left zero.
const (
	DefaultConsoleLines       = 500
	DefaultConsoleLineRate    = 2000
	DefaultConsoleByteRate    = 1 << 20
	DefaultConsoleCommandRate = 10
	DefaultConsoleConnections = 16
)

// withDefaults fills in the durations, limits and container user left
// zero.
func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ContainerUser == "" {
		c.ContainerUser = DefaultContainerUser
	}
	for _, f := range []struct {
		v *time.Duration
		d time.Duration
	}{
		{&c.StopTimeout, DefaultStopTimeout},
		{&c.ShutdownTimeout, DefaultShutdownTimeout},
		{&c.CrashWindow, DefaultCrashWindow},
		{&c.RestartDelay, DefaultRestartDelay},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	for _, f := range []struct {
		v *int
		d int
	}{
		{&c.ConsoleLines, DefaultConsoleLines},
		{&c.ConsoleLineRate, DefaultConsoleLineRate},
		{&c.ConsoleByteRate, DefaultConsoleByteRate},
		{&c.ConsoleCommandRate, DefaultConsoleCommandRate},
		{&c.ConsoleConnections, DefaultConsoleConnections},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	return c
}

// Configure registers this machine with the panel: it trades the one-time
// configure key for the node's identity and token, and writes node.json in
// dir with only the token's hash, and the panel token the node calls the
// panel with. Configuring again replaces the identity;
// TLS paths already in node.json are kept, since the operator put them there.
func Configure(ctx context.Context, panelURL, key, dir string) error {
	resp, err := nodeapi.Configure(ctx, panelURL, key)
	if err != nil {
		return err
	}
	f := ConfigFile{
		PanelURL:    panelURL,
		NodeID:      resp.NodeID,
		TokenSHA256: secret.Hash(resp.Token),
		Address:     resp.Address,
		Port:        resp.Port,
		PanelToken:  resp.PanelToken,
	}
	if old, err := ReadConfigFile(dir); err == nil {
		f.TLSCert, f.TLSKey = old.TLSCert, old.TLSKey
	}
	return WriteConfigFile(dir, f)
}

// ReadConfigFile reads <dir>/node.json.
func ReadConfigFile(dir string) (ConfigFile, error) {
	var f ConfigFile
	b, err := os.ReadFile(filepath.Join(dir, ConfigFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return f, fmt.Errorf("node is not configured (no %s in %s; run `berth node configure`): %w", ConfigFileName, dir, err)
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("read %s: %w", filepath.Join(dir, ConfigFileName), err)
	}
	return f, nil
}

// WriteConfigFile writes <dir>/node.json atomically with mode 0600, creating
// dir when needed: a crash leaves either the old file or the new one.
func WriteConfigFile(dir string, f ConfigFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return files.WriteAtomic(root, ConfigFileName, 0o600, func(f *os.File) error {
		_, err := f.Write(append(b, '\n'))
		return err
	})
}

// LoadConfig reads node.json in dir and turns it into the Config of a
// daemon that listens on the node's registered address and port. Version is
// left for the caller to set.
func LoadConfig(dir string) (Config, error) {
	f, err := ReadConfigFile(dir)
	if err != nil {
		return Config{}, err
	}
	if f.Port < 1 || f.Port > 65535 {
		return Config{}, fmt.Errorf("%s: port %d is out of range", ConfigFileName, f.Port)
	}
	return Config{
		Dir:         dir,
		TokenSHA256: f.TokenSHA256,
		Listen:      net.JoinHostPort(f.Address, strconv.Itoa(f.Port)),
		TLSCert:     inDir(dir, f.TLSCert),
		TLSKey:      inDir(dir, f.TLSKey),
		PanelURL:    f.PanelURL,
		PanelToken:  f.PanelToken,
	}, nil
}

func inDir(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
