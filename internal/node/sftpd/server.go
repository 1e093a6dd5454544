// Package sftpd is the node daemon's SFTP server (DESIGN §10): SSH from
// golang.org/x/crypto/ssh, SFTP from github.com/pkg/sftp's request server,
// and every file operation through the instance's os.Root (package files),
// counted against its disk limit.
//
// The node decides nothing about who may sign in: it asks the panel, with
// the panel token configure gave it, and re-asks about its open sessions
// every few seconds, so that a changed password, a removed key or subuser,
// a lost permission, a suspension or a deletion ends a session within
// seconds.
package sftpd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// HostKeyFile is the name of the host key in the node's data folder.
const HostKeyFile = "sftp_host_ed25519_key"

// Panel is what the server asks the panel (nodeapi.PanelClient).
type Panel interface {
	SFTPAuth(ctx context.Context, req nodeapi.SFTPAuthRequest) (nodeapi.SFTPGrant, error)
	SFTPCheck(ctx context.Context, sessions []nodeapi.SFTPSession) ([]nodeapi.SFTPVerdict, error)
}

// Folders opens an instance's data folder, its disk usage measured so
// that writes are held to its limit. The caller closes the folder.
type Folders func(ctx context.Context, instanceID string) (*files.Folder, error)

// Config is what New needs.
type Config struct {
	// Dir is the node's data folder, where the host key is kept.
	Dir string
	// Panel answers sign-ins and re-checks.
	Panel Panel
	// Folders opens the instances' data folders.
	Folders Folders
	// Log receives sign-in failures, sessions opened and closed.
	Log *slog.Logger
	// Now is the clock of the throttle and of the re-checks; nil means
	// time.Now.
	Now func() time.Time
	// CheckInterval is how often open sessions are re-checked with the
	// panel; 0 means DefaultCheckInterval.
	CheckInterval time.Duration
	// Grace is how long sessions stay open while the panel cannot be
	// asked about them; 0 means DefaultGrace.
	Grace time.Duration
	// MaxFailures failed sign-ins from one address within FailureWindow
	// lock the address out for Lockout; zeros mean the defaults.
	MaxFailures   int
	FailureWindow time.Duration
	Lockout       time.Duration
}

// Defaults of Config.
const (
	// DefaultCheckInterval re-checks sessions well within the 5 seconds
	// a revocation may take.
	DefaultCheckInterval = 2 * time.Second
	// DefaultGrace keeps sessions open through a panel restart, not
	// through a panel that stays away: a revocation made meanwhile
	// cannot be learnt, so the sessions end.
	DefaultGrace         = 30 * time.Second
	DefaultMaxFailures   = 10
	DefaultFailureWindow = time.Minute
	DefaultLockout       = 5 * time.Minute
)

// handshakeTimeout bounds a connection's SSH handshake and sign-in.
const handshakeTimeout = 30 * time.Second

// Server serves SFTP. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	ssh      *ssh.ServerConfig
	hostKey  ssh.Signer
	throttle *throttle

	mu       sync.Mutex
	sessions map[*session]struct{}
	// conns are the connections not yet signed in, closed at shutdown;
	// nil once it has begun.
	conns map[net.Conn]struct{}
}

// New loads the host key from cfg.Dir, making it on first start.
func New(cfg Config) (*Server, error) {
	if cfg.Panel == nil || cfg.Folders == nil {
		return nil, errors.New("sftpd: a panel and the instances' folders are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, d := range []struct {
		v *time.Duration
		d time.Duration
	}{{&cfg.CheckInterval, DefaultCheckInterval}, {&cfg.Grace, DefaultGrace},
		{&cfg.FailureWindow, DefaultFailureWindow}, {&cfg.Lockout, DefaultLockout}} {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	key, err := LoadHostKey(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, hostKey: key, sessions: map[*session]struct{}{}, conns: map[net.Conn]struct{}{}}
	s.throttle = newThrottle(cfg.MaxFailures, cfg.FailureWindow, cfg.Lockout)
	s.ssh = &ssh.ServerConfig{
		PasswordCallback:  s.password,
		PublicKeyCallback: s.publicKey,
		ServerVersion:     "SSH-2.0-Berth",
		MaxAuthTries:      6,
	}
	s.ssh.AddHostKey(key)
	return s, nil
}

// Fingerprint is the host key's SHA256 fingerprint, as ssh shows it.
func (s *Server) Fingerprint() string { return ssh.FingerprintSHA256(s.hostKey.PublicKey()) }

// LoadHostKey reads the ed25519 host key in dir, or makes one: written
// atomically, mode 0600, so that a crash never leaves half a key, and
// reused on every later start so that clients' known_hosts stay right.
func LoadHostKey(dir string) (ssh.Signer, error) {
	path := filepath.Join(dir, HostKeyFile)
	raw, err := os.ReadFile(path)
	if err == nil {
		key, err := ssh.ParsePrivateKey(raw)
		if err != nil {
			return nil, fmt.Errorf("sftpd: host key %s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sftpd: host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "berth sftp host key")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := files.WriteAtomic(root, HostKeyFile, 0o600, func(f *os.File) error {
		return pem.Encode(f, block)
	}); err != nil {
		return nil, fmt.Errorf("sftpd: write host key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// Sessions is the number of open SFTP sessions (signed-in connections).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// CloseInstance ends every session of an instance (it was removed, or
// its data folder is being replaced), telling the client why.
func (s *Server) CloseInstance(id, reason string) {
	for _, se := range s.list() {
		if se.instanceID == id {
			se.end(reason)
		}
	}
}

// list is the open sessions.
func (s *Server) list() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for se := range s.sessions {
		out = append(out, se)
	}
	return out
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection, and returns once they have all ended.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { s.checkSessions(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		ln.Close()
		s.closeAll()
	})
	s.cfg.Log.Info("SFTP listening", "addr", ln.Addr().String(), "host_key", s.Fingerprint())
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("sftpd: accept: %w", err)
		}
		if !s.track(conn) {
			conn.Close()
			continue
		}
		wg.Go(func() { s.serveConn(ctx, conn) })
	}
}

// track records a connection not yet signed in, unless the server is
// shutting down (conns is nil).
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// closeAll ends every connection and session, for shutdown.
func (s *Server) closeAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	for _, se := range s.list() {
		se.end("the node is shutting down")
	}
}
