// Package node is the node daemon: it serves the panel-node protocol's /v1
// HTTP API and carries out each request through a runtime.Runtime, keeping
// the panel's specs on disk so that a restart loses nothing.
//
// The daemon holds no state that matters in memory. An instance is what its
// record in <dir>/instances says the panel wants, plus what the runtime
// reports about its labelled container; both survive a daemon restart, and
// running containers are left running across one.
package node

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/node/backup"
	"github.com/berth-dev/berth/internal/node/disk"
	"github.com/berth-dev/berth/internal/node/install"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/node/sftpd"
	"github.com/berth-dev/berth/internal/node/volumes"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// Daemon is a node daemon: its configuration, its runtime and its API.
type Daemon struct {
	cfg       Config
	rt        runtime.Runtime
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	records   records.Store
	volumes   volumes.Volumes
	locks     instanceLocks
	handler   http.Handler

	// installs runs the instances' installs in the background, with
	// installer (install.go).
	installs  install.Runs
	installer install.Runner
	// sups follows each instance's power state, output and exits
	// (supervisor.go).
	sups supervisors
	// extracts caps each instance's archive extractions (extracts.go).
	extracts *extractLimiter
	// disk keeps the instances' disk usage.
	disk *disk.Accounting
	// backups makes and keeps the instances' backups (backups.go).
	backups *backup.Service
	// sftp serves SFTP on sftpLn; both nil when SFTP is off (sftp.go).
	sftp   *sftpd.Server
	sftpLn net.Listener
}

// recoverTimeout bounds the runtime listing New does to rebuild its view.
const recoverTimeout = 30 * time.Second

// New checks cfg, prepares the data folder and rebuilds the daemon's view of
// its instances from the runtime's labelled containers and the stored specs.
// It starts, stops and recreates nothing. When cfg asks for SFTP it opens
// its listener, which Serve then serves (or Close closes). A runtime that does not answer is
// logged, not fatal: the daemon serves and reports it in /v1/health.
func New(cfg Config, rt runtime.Runtime, logger *slog.Logger) (*Daemon, error) {
	if cfg.Dir == "" {
		return nil, errors.New("node: data folder is required")
	}
	if rt == nil {
		return nil, errors.New("node: runtime is required")
	}
	hash, err := hex.DecodeString(cfg.TokenSHA256)
	if err != nil || len(hash) != sha256.Size {
		return nil, errors.New("node: token hash must be 64 hex digits (the SHA-256 of the token)")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("node: TLS needs both a certificate and a key")
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	owner, err := volumes.ParseOwner(cfg.ContainerUser)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if owner.Root() {
		logger.Warn("instances run as root, as the container user asks; a game that escapes its container is root on the host",
			"container_user", owner.String())
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("node: data folder: %w", err)
	}
	cfg.Dir = dir

	d := &Daemon{
		cfg:     cfg,
		rt:      rt,
		log:     logger,
		records: records.NewStore(filepath.Join(dir, "instances")),
		volumes: volumes.New(filepath.Join(dir, "volumes"), owner),
	}
	d.disk = disk.New(d.volumes, logger)
	d.extracts = newExtractLimiter(cfg.Files.withDefaults().MaxExtractsPerMinute, cfg.Now)
	d.installer = install.Runner{Runtime: rt, Volumes: d.volumes, Logs: install.NewLogs(d.records), Config: cfg.Install}
	copy(d.tokenHash[:], hash)
	d.sups.init(d)
	if err := d.records.SweepTemp(); err != nil {
		return nil, fmt.Errorf("node: instances folder: %w", err)
	}
	if d.backups, err = backup.New(filepath.Join(dir, "backups"), cfg.BackupS3, logger); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if err := d.backups.Recover(); err != nil {
		d.backups.Close()
		return nil, fmt.Errorf("node: backups folder: %w", err)
	}
	if err := d.recoverRestores(); err != nil {
		d.backups.Close()
		return nil, fmt.Errorf("node: restores cut off by a stop: %w", err)
	}
	internalError := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, nodeapi.ErrorBody{Error: "internal error"})
	}
	d.handler = httplog.Handler(d.log, internalError, d.authenticate(d.routes()))

	if err := d.startSFTP(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoverTimeout)
	defer cancel()
	d.recoverInstances(ctx)
	// Only now can a console take a line: the supervisors are up.
	d.backups.SendInterruptedAfters(func(id, line string) error { return d.command(id, line) })
	return d, nil
}

// recoverInstances reads the runtime's containers and the stored specs and
// gives each instance its supervisor, which adopts a running container
// (attaches to it, follows it) without restarting it. What the panel wants
// is applied by its next ensure; an instance that crashed while no daemon
// watched is handled as a crash.
func (d *Daemon) recoverInstances(ctx context.Context) {
	recs, bad, err := d.records.All()
	if err != nil {
		d.log.Error("read instance specs", "err", err)
	}
	for _, err := range bad {
		d.log.Error("unreadable instance spec", "err", err)
	}
	for id, rec := range recs {
		d.sups.get(id).configure(&rec)
	}
	states, err := d.rt.List(ctx)
	if err != nil {
		d.log.Warn("container runtime unreachable; instances will be read when it answers",
			"specs", len(recs), "err", err)
		return
	}
	running := 0
	for _, st := range states {
		if st.Running {
			running++
		}
		if _, ok := recs[st.InstanceID]; !ok {
			// Left for the panel to remove: deleting data on a guess is
			// worse than an orphan listed in /v1/instances.
			d.log.Warn("container without a stored spec", "instance", st.InstanceID, "container", st.ContainerID)
		}
	}
	d.recoverSupervisors(ctx, recs, states)
	d.log.Info("recovered instances", "specs", len(recs), "containers", len(states), "running", running)
}

// Handler is the daemon's whole HTTP API, middleware included.
func (d *Daemon) Handler() http.Handler { return d.handler }

// routes lists every pattern of the /v1 API.
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	// Every body is bounded in time (httplog.TimeBody); the two that carry
	// files live as long as they make progress.
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, httplog.TimeBody(readBodyTimeout, false, h))
	}
	upload := func(pattern string, h http.Handler) {
		mux.Handle(pattern, httplog.TimeBody(bodyIdleTimeout, true, h))
	}
	handle("GET /v1/health", d.api(d.handleHealth))
	handle("GET /v1/instances", d.api(d.handleListInstances))
	handle("GET /v1/instances/{id}", d.api(d.handleGetInstance))
	handle("PUT /v1/instances/{id}", d.api(d.handleEnsureInstance))
	handle("DELETE /v1/instances/{id}", d.api(d.handleRemoveInstance))
	handle("POST /v1/instances/{id}/power", d.api(d.handlePower))
	handle("POST /v1/instances/{id}/command", d.api(d.handleCommand))
	handle("GET /v1/instances/{id}/logs", d.api(d.handleLogs))
	handle("GET /v1/instances/{id}/console", d.api(d.handleConsole))
	handle("GET /v1/instances/{id}/stats", d.api(d.handleStats))
	handle("GET /v1/instances/{id}/disk", d.api(d.handleDisk))
	handle("GET /v1/instances/{id}/files", d.fileRoute(false, d.handleListFiles))
	handle("GET /v1/instances/{id}/files/content", d.fileRoute(false, d.handleReadFile))
	upload("PUT /v1/instances/{id}/files/content", d.fileRoute(true, d.handleWriteFile))
	handle("GET /v1/instances/{id}/files/download", d.fileRoute(false, d.handleDownloadFile))
	upload("POST /v1/instances/{id}/files/upload", d.fileRoute(true, d.handleUploadFiles))
	handle("POST /v1/instances/{id}/files/mkdir", d.fileRoute(true, d.handleMkdir))
	handle("POST /v1/instances/{id}/files/rename", d.fileRoute(true, d.handleRename))
	handle("POST /v1/instances/{id}/files/delete", d.fileRoute(true, d.handleDelete))
	handle("POST /v1/instances/{id}/files/compress", d.fileRoute(true, d.handleCompress))
	handle("POST /v1/instances/{id}/files/extract", d.fileRoute(true, d.handleExtract))
	handle("GET /v1/instances/{id}/install-log", d.api(d.handleInstallLog))
	handle("POST /v1/instances/{id}/backups", d.api(d.handleCreateBackup))
	handle("GET /v1/instances/{id}/backups/{backupId}", d.backupRoute(d.handleGetBackup))
	handle("DELETE /v1/instances/{id}/backups/{backupId}", d.backupRoute(d.handleDeleteBackup))
	handle("GET /v1/instances/{id}/backups/{backupId}/download", d.backupRoute(d.handleDownloadBackup))
	handle("POST /v1/instances/{id}/backups/{backupId}/restore", d.backupRoute(d.handleRestoreBackup))
	return httplog.Unmatched(mux, nil)
}

// api adapts a handler that returns its failure, so that every error is
// answered by writeError and mapped by classify, in one place.
func (d *Daemon) api(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			d.writeError(w, r, err)
		}
	})
}

// authenticate lets a request through only with the panel's bearer token.
// The token is hashed and compared in constant time with the stored hash,
// so neither its value nor its length leaks through timing.
func (d *Daemon) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth-node"`)
			writeJSON(w, http.StatusUnauthorized, nodeapi.ErrorBody{Error: "bearer token is required"})
			return
		}
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], d.tokenHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth-node", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, nodeapi.ErrorBody{Error: "bearer token is invalid"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive as RFC 9110 says.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// Server timeouts. There is no write timeout: an ensure may pull an image
// for minutes, and the panel's client bounds each call itself.
const (
	readHeaderTimeout = 10 * time.Second
	readBodyTimeout   = time.Minute
	idleTimeout       = 2 * time.Minute
)

// Run listens on cfg.Listen and serves until ctx is done, then shuts down
// gracefully.
func (d *Daemon) Run(ctx context.Context) error {
	if d.cfg.Listen == "" {
		return errors.New("node: no listen address")
	}
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("node: listen: %w", err)
	}
	return d.Serve(ctx, ln)
}

// Serve serves the API on ln (HTTPS when a certificate is configured) until
// ctx is done. In-flight requests then get up to cfg.ShutdownTimeout to
// finish before their connections are closed. It closes ln.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	if d.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(d.cfg.TLSCert, d.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("node: TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	// Decided before serving: Serve itself writes to srv.TLSConfig.
	useTLS := srv.TLSConfig != nil
	served := make(chan error, 1)
	go func() {
		if useTLS {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	d.log.Info("node API listening", "addr", ln.Addr().String(), "tls", useTLS)
	stopDiskCheck := d.watchDisk(ctx)
	defer stopDiskCheck()
	sftpCtx, stopSFTP := context.WithCancel(ctx)
	waitSFTP := d.serveSFTP(sftpCtx)
	defer waitSFTP()
	defer stopSFTP()

	select {
	case err := <-served:
		return fmt.Errorf("node: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	defer d.Close()
	err := srv.Shutdown(shutdownCtx)
	<-served // returns http.ErrServerClosed once Shutdown has begun
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("node: shutdown: %w", err)
	}
	return nil
}
