// Package panel serves Berth's admin HTTP API: the seed specification's
// endpoints under /api, exactly, plus the endpoints beyond it, with one
// routes function listing every pattern. Handlers read the request,
// validate it, call the store, and answer.
package panel

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/schedule"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// Config is what a Server needs.
type Config struct {
	// Store is the database.
	Store *store.Store
	// Log receives one line per request and every unexpected error.
	Log *slog.Logger
	// Mode selects the compatibility status codes.
	Mode Mode
	// PublicURL is the panel's address as nodes reach it, used in the
	// configure command; empty means the address the request came to.
	PublicURL string
	// InstallTimeout is how long a deploy may stay INSTALLING before the
	// reconciler fails it.
	InstallTimeout time.Duration
	// ConfigureKeyTTL is how long a node's configure key works.
	ConfigureKeyTTL time.Duration
	// NodeTLS verifies nodes served over HTTPS; nil trusts the system's
	// certificate authorities.
	NodeTLS *tls.Config
	// Kick, when set, wakes the reconciler after a change of desired state
	// that concerns the whole fleet.
	Kick func()
	// KickNode, when set, wakes the reconciler's worker of one node after
	// a change of desired state on it (a deploy, a suspension, a delete),
	// and no other: a deploy's cost must not grow with the fleet. Unset, it
	// falls back to Kick.
	KickNode func(nodeID string)
	// MaxUploadBytes caps one file upload's body, which the 1 MiB cap of
	// every other body would not let through; 0 means
	// DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// ReadHeaderTimeout is how long a client may take to send a request's
	// headers; 0 means 10 seconds.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is how long a client may take to send a whole ordinary
	// request body; 0 means a minute.
	BodyTimeout time.Duration
	// UploadIdleTimeout is how long a file upload may send nothing before
	// it is cut off; it has no other time limit. 0 means a minute.
	UploadIdleTimeout time.Duration
	// SessionIdle ends a session unused for this long; 0 means
	// DefaultSessionIdle.
	SessionIdle time.Duration
	// SessionMax ends a session this long after sign-in, used or not; 0
	// means DefaultSessionMax.
	SessionMax time.Duration
	// Require2FAAdmins lets an admin user without two-factor do nothing
	// but set it up.
	Require2FAAdmins bool
	// ObserveRequest, when set, hears of every request as it ends, with
	// the pattern of its route: the metrics' request counts and latencies.
	ObserveRequest httplog.Observer
	// DefaultBackupLimit is the backupLimit of an instance whose deploy
	// names none (the -default-backup-limit flag); 0 allows no backups.
	DefaultBackupLimit int
	// Now is the clock of sessions, tokens, two-factor and sign-in
	// throttling; nil means time.Now.
	Now func() time.Time
	// AllowPrivateWebhooks lets a webhook's address be a private,
	// loopback or link-local one (-allow-private-webhooks).
	AllowPrivateWebhooks bool
}

// Session lifetimes when Config leaves them at zero.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 30 * 24 * time.Hour
)

// Server is the panel's HTTP API.
type Server struct {
	store *store.Store
	log   *slog.Logger
	cfg   Config
	mux   *http.ServeMux
	// patterns lists every pattern routes() registered, in order: the
	// OpenAPI document must cover exactly these.
	patterns []string
	// openapi is the encoded OpenAPI document of the API, in this mode.
	openapi []byte
	// creds caches resolved credentials: admin keys, sessions, tokens.
	creds credCache
	// responses caches the answers of single instance reads.
	responses responseCache
	// instanceCache caches the whole instance list, patched per write.
	instanceCache instanceList
	// base ends with the server's shutdown: what outlives a request, the
	// console proxies, ends with it.
	base     context.Context
	shutdown context.CancelFunc
	// site is the web UI: its pages and static files.
	site *web.Site
	// crossOrigin refuses changes that a page of another origin makes
	// with the browser's session cookie.
	crossOrigin *http.CrossOriginProtection
	// passwordChecks counts argon2id password checks, for tests that
	// check an unknown user costs as much as a wrong password.
	passwordChecks atomic.Int64
	// consoleTicks, set by tests, paces the re-checks of open consoles'
	// credentials in place of a ticker; consoleChecked, if set, hears the
	// outcome of each.
	consoleTicks   <-chan time.Time
	consoleChecked func(error)
	// schedules runs the instances' schedules, and the runs asked for
	// through the API.
	schedules *schedule.Runner
	// idempotencyPurged is when expired idempotency keys were last purged,
	// in Unix nanoseconds.
	idempotencyPurged atomic.Int64
}

// New builds the API server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeSeed
	}
	if cfg.InstallTimeout <= 0 {
		cfg.InstallTimeout = 15 * time.Minute
	}
	if cfg.ConfigureKeyTTL <= 0 {
		cfg.ConfigureKeyTTL = time.Hour
	}
	if cfg.Kick == nil {
		cfg.Kick = func() {}
	}
	if cfg.KickNode == nil {
		kick := cfg.Kick
		cfg.KickNode = func(string) { kick() }
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = defaultBodyTimeout
	}
	if cfg.UploadIdleTimeout <= 0 {
		cfg.UploadIdleTimeout = defaultUploadIdleTimeout
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{store: cfg.Store, log: cfg.Log, cfg: cfg, mux: http.NewServeMux(),
		crossOrigin: crossOriginProtection(cfg.PublicURL)}
	s.base, s.shutdown = context.WithCancel(context.Background())
	s.schedules = schedule.New(schedule.Config{Store: cfg.Store, Tasks: scheduleTasks{s}, Log: cfg.Log, Now: cfg.Now})
	s.site = web.MustNew()
	s.routes()
	s.uiRoutes()
	s.openapi = mustEncodeDocument(cfg.Mode)
	return s
}

// register serves pattern with h and records the pattern.
func (s *Server) register(pattern string, h http.Handler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, h)
}

// now is the server's clock.
func (s *Server) now() time.Time { return s.cfg.Now() }

// routes lists every endpoint. Everything under /api needs an API key or
// an admin user's session or token, but the OpenAPI document; /api/client
// needs a user's. Each pattern needs its entry in routeDocs.
func (s *Server) routes() {
	// Every route caps its request body, in size and in time: at maxBody
	// and cfg.BodyTimeout, or, for the two that take files, at a larger
	// cap of their own and for as long as the upload makes progress.
	route := func(pattern string, limit int64, h http.Handler) {
		s.register(pattern, s.timeBody(false, limitBody(limit, h)))
	}
	api := func(pattern string, h handler) { route(pattern, maxBody, s.authenticated(adminFront, s.handle(h))) }
	upload := func(pattern string, limit int64, h handler) {
		s.register(pattern, s.timeBody(true, limitBody(limit, s.authenticated(adminFront, s.handle(h)))))
	}
	route("GET /healthz", maxBody, s.handle(s.healthz))
	route("POST /nodes/configure", maxBody, s.handle(s.configureNode))
	route("POST /nodes/sftp/auth", maxBody, s.handle(s.nodeAuthenticated(s.sftpAuth)))
	route("POST /nodes/sftp/check", maxBody, s.handle(s.nodeAuthenticated(s.sftpCheck)))
	route("GET /api/openapi.json", maxBody, s.handle(s.serveOpenAPI))

	api("GET /api/users", s.listUsers)
	api("POST /api/getUser", s.getUser)
	api("POST /api/auth/create-user", s.idempotent(s.createUser))

	api("GET /api/instances", s.listInstances)
	api("POST /api/instances/deploy", s.deploy)
	api("DELETE /api/instance/delete", s.deleteInstance)
	api("POST /api/getUserInstance", s.getUserInstances)
	api("POST /api/getInstance", s.getInstance)
	api("POST /api/instances/suspend/{id}", s.suspend)
	api("POST /api/instances/unsuspend/{id}", s.unsuspend)
	admin := s.adminInstance
	api("POST /api/instances/power/{id}", s.power(admin))
	api("GET /api/instances/logs/{id}", s.logs(admin))
	api("GET /api/instances/disk/{id}", s.diskUsage(admin))
	api("GET /api/instances/files/{id}", s.listFiles(admin))
	api("GET /api/instances/files/{id}/content", s.readFileContent(admin))
	upload("PUT /api/instances/files/{id}/content", nodeapi.MaxFileContentBytes, s.writeFileContent(admin))
	api("GET /api/instances/files/{id}/download", s.downloadFile(admin))
	upload("POST /api/instances/files/{id}/upload", s.cfg.MaxUploadBytes, s.uploadFiles(admin))
	api("POST /api/instances/files/{id}/mkdir", s.makeDir(admin))
	api("POST /api/instances/files/{id}/rename", s.renameFile(admin))
	api("POST /api/instances/files/{id}/delete", s.deleteFiles(admin))
	api("POST /api/instances/files/{id}/compress", s.compressFiles(admin))
	api("POST /api/instances/files/{id}/extract", s.extractFile(admin))
	api("GET /api/instances/stats/{id}", s.stats(admin))
	api("GET /api/instances/console/{id}", s.console(adminFront, admin))
	api("GET /api/instances/install-log/{id}", s.installLog(admin))
	const adminSchedules = "/api/instances/schedules/{id}"
	api("GET "+adminSchedules, s.listSchedules(admin))
	api("POST "+adminSchedules, s.createSchedule(admin))
	api("GET "+adminSchedules+"/{scheduleId}", s.getSchedule(admin))
	api("PUT "+adminSchedules+"/{scheduleId}", s.changeSchedule(admin, false))
	api("PATCH "+adminSchedules+"/{scheduleId}", s.changeSchedule(admin, true))
	api("DELETE "+adminSchedules+"/{scheduleId}", s.deleteSchedule(admin))
	api("POST "+adminSchedules+"/{scheduleId}/run", s.runSchedule(admin))

	api("GET /api/images", s.listImages)
	api("POST /api/images", s.createImage)
	api("DELETE /api/images/{id}", s.deleteImage)

	api("GET /api/nodes", s.listNodes)
	api("POST /api/nodes/create", s.createNode)
	api("DELETE /api/nodes/delete", s.deleteNode)
	api("POST /api/nodes/configure-key/{id}", s.renewConfigureKey)

	// Admin management of users and API keys (acc-admin).
	api("PATCH /api/users/{userId}", s.updateUser)
	api("DELETE /api/users/{userId}", s.deleteUser)
	api("GET /api/keys", s.listKeys)
	api("POST /api/keys", s.createKey)
	api("DELETE /api/keys/{id}", s.revokeKey)

	// Accounts (DESIGN §8): sign-in, the user's own account, personal
	// access tokens, two-factor, SSH keys; and the admin's reset of a
	// user's two-factor.
	client := func(f front, pattern string, h handler) { route(pattern, maxBody, s.authenticated(f, s.handle(h))) }
	route("POST /auth/login", maxBody, s.sameOriginOnly(s.handle(s.login)))
	route("POST /auth/logout", maxBody, s.sameOriginOnly(s.handle(s.logout)))
	client(clientFront, "GET /api/client/account", s.getAccount)
	client(clientFront, "POST /api/client/account/password", s.changePassword)
	client(twoFactorSetupFront, "POST /api/client/account/2fa/setup", s.setupTwoFactor)
	client(twoFactorSetupFront, "POST /api/client/account/2fa/enable", s.enableTwoFactor)
	client(clientFront, "POST /api/client/account/2fa/disable", s.disableTwoFactor)
	client(clientFront, "GET /api/client/account/sessions", s.listSessions)
	client(clientFront, "DELETE /api/client/account/sessions", s.deleteOtherSessions)
	client(clientFront, "DELETE /api/client/account/sessions/{id}", s.deleteSession)
	client(clientFront, "GET /api/client/account/tokens", s.listTokens)
	client(clientFront, "POST /api/client/account/tokens", s.createToken)
	client(clientFront, "DELETE /api/client/account/tokens/{id}", s.deleteToken)
	client(clientFront, "GET /api/client/account/ssh-keys", s.listSSHKeys)
	client(clientFront, "POST /api/client/account/ssh-keys", s.idempotent(s.addSSHKey))
	client(clientFront, "DELETE /api/client/account/ssh-keys/{id}", s.deleteSSHKey)
	api("POST /api/users/{userId}/reset-2fa", s.resetTwoFactor)

	// Activity and the client API of instances (/api/client/instances):
	// a user's session or token, never an admin key (clientFront). Every
	// instance route is the admin API's handler behind the client's
	// instance front, which asks the authorizer for the route's action:
	// on(permission, change).
	api("GET /api/audit", s.listAudit)
	clientUpload := func(pattern string, limit int64, h handler) {
		s.register(pattern, s.timeBody(true, limitBody(limit, s.authenticated(clientFront, s.handle(h)))))
	}
	on := func(need access.Permission, change bool) instanceFront {
		return s.clientInstance(access.Action{Need: need, Change: change})
	}
	const read, change = false, true
	const inst = "/api/client/instances/{id}"
	client(clientFront, "GET /api/client/instances", s.listClientInstances)
	client(clientFront, "GET "+inst, s.getClientInstance(s.clientInstance(access.View)))
	client(clientFront, "POST "+inst+"/power", s.power(on(access.Power, change)))
	client(clientFront, "GET "+inst+"/logs", s.logs(on(access.ConsoleRead, read)))
	client(clientFront, "GET "+inst+"/stats", s.stats(on(access.ConsoleRead, read)))
	client(clientFront, "GET "+inst+"/console", s.console(clientFront, on(access.ConsoleRead, read)))
	client(clientFront, "GET "+inst+"/install-log", s.installLog(on(access.ConsoleRead, read)))
	client(clientFront, "GET "+inst+"/files", s.listFiles(on(access.FilesRead, read)))
	client(clientFront, "GET "+inst+"/files/content", s.readFileContent(on(access.FilesRead, read)))
	clientUpload("PUT "+inst+"/files/content", nodeapi.MaxFileContentBytes, s.writeFileContent(on(access.FilesWrite, change)))
	client(clientFront, "GET "+inst+"/files/download", s.downloadFile(on(access.FilesRead, read)))
	clientUpload("POST "+inst+"/files/upload", s.cfg.MaxUploadBytes, s.uploadFiles(on(access.FilesWrite, change)))
	client(clientFront, "POST "+inst+"/files/mkdir", s.makeDir(on(access.FilesWrite, change)))
	client(clientFront, "POST "+inst+"/files/rename", s.renameFile(on(access.FilesWrite, change)))
	client(clientFront, "POST "+inst+"/files/delete", s.deleteFiles(on(access.FilesWrite, change)))
	client(clientFront, "POST "+inst+"/files/compress", s.compressFiles(on(access.FilesWrite, change)))
	client(clientFront, "POST "+inst+"/files/extract", s.extractFile(on(access.FilesWrite, change)))
	client(clientFront, "GET "+inst+"/variables", s.getVariables(on(access.Settings, read)))
	client(clientFront, "PUT "+inst+"/variables", s.setVariables(on(access.Settings, change)))
	client(clientFront, "GET "+inst+"/subusers", s.listSubusers(on(access.Subusers, read)))
	client(clientFront, "POST "+inst+"/subusers", s.addSubuser(on(access.Subusers, change)))
	client(clientFront, "PUT "+inst+"/subusers/{userId}", s.changeSubuser(on(access.Subusers, change)))
	client(clientFront, "DELETE "+inst+"/subusers/{userId}", s.removeSubuser(on(access.Subusers, change)))
	client(clientFront, "GET "+inst+"/activity", s.instanceActivity(on(access.ConsoleRead, read)))
	client(clientFront, "PATCH "+inst, s.renameInstance(on(access.Settings, change)))
	client(clientFront, "GET "+inst+"/disk", s.diskUsage(on(access.FilesRead, read)))
	client(clientFront, "GET "+inst+"/schedules", s.listSchedules(on(access.Schedules, read)))
	client(clientFront, "POST "+inst+"/schedules", s.createSchedule(on(access.Schedules, change)))
	client(clientFront, "GET "+inst+"/schedules/{scheduleId}", s.getSchedule(on(access.Schedules, read)))
	client(clientFront, "PUT "+inst+"/schedules/{scheduleId}", s.changeSchedule(on(access.Schedules, change), false))
	client(clientFront, "PATCH "+inst+"/schedules/{scheduleId}", s.changeSchedule(on(access.Schedules, change), true))
	client(clientFront, "DELETE "+inst+"/schedules/{scheduleId}", s.deleteSchedule(on(access.Schedules, change)))
	client(clientFront, "POST "+inst+"/schedules/{scheduleId}/run", s.runSchedule(on(access.Schedules, change)))

	// Webhooks (DESIGN §12): an instance's, for its users and for admins,
	// and the global ones.
	s.webhookRoutes(api, func(pattern string, h handler) { client(clientFront, pattern, h) }, on)

	// Backups (DESIGN §11): the admin API keeps its
	// /api/instances/<action>/{id} shape; the client's need the backups
	// permission, to download one too. backups.go.
	api("PATCH /api/instances/{id}", s.updateInstance)
	const adminBackup = "/api/instances/backups/{id}/{backupId}"
	api("GET /api/instances/backups/{id}", s.listBackups(admin))
	api("POST /api/instances/backups/{id}", s.createBackup(admin))
	api("GET "+adminBackup, s.getBackup(admin))
	api("DELETE "+adminBackup, s.deleteBackup(admin))
	api("GET "+adminBackup+"/download", s.downloadBackup(admin))
	api("POST "+adminBackup+"/restore", s.restoreBackup(admin))
	api("POST "+adminBackup+"/lock", s.lockBackup(admin, true))
	api("POST "+adminBackup+"/unlock", s.lockBackup(admin, false))
	const backup = inst + "/backups/{backupId}"
	client(clientFront, "GET "+inst+"/backups", s.listBackups(on(access.Backups, read)))
	client(clientFront, "POST "+inst+"/backups", s.createBackup(on(access.Backups, change)))
	client(clientFront, "GET "+backup, s.getBackup(on(access.Backups, read)))
	client(clientFront, "DELETE "+backup, s.deleteBackup(on(access.Backups, change)))
	client(clientFront, "GET "+backup+"/download", s.downloadBackup(on(access.Backups, read)))
	client(clientFront, "POST "+backup+"/restore", s.restoreBackup(on(access.Backups, change)))
	client(clientFront, "POST "+backup+"/lock", s.lockBackup(on(access.Backups, change), true))
	client(clientFront, "POST "+backup+"/unlock", s.lockBackup(on(access.Backups, change), false))
}

// Handler returns the API with its middleware: request log and
// observer, panic recovery, and JSON 404/405 answers. Body limits are set per route.
func (s *Server) Handler() http.Handler {
	internalError := func(w http.ResponseWriter, r *http.Request) {
		writeErrorMessage(w, http.StatusInternalServerError, "internal error (request "+requestID(r)+")")
	}
	return httplog.Observed(s.log, internalError, s.cfg.ObserveRequest, httplog.Unmatched(s.mux, s.guardUnmatched))
}

// guardUnmatched wraps the answer to a request no route matches: an /api
// path still needs the credentials of its front, so that an
// unauthenticated caller cannot map the API by probing; and the body,
// unread, is still bounded in time while it is drained.
func (s *Server) guardUnmatched(r *http.Request, answer http.Handler) http.Handler {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/client/"):
		answer = s.authenticated(clientFront, answer)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		answer = s.authenticated(adminFront, answer)
	case wantsPage(r):
		answer = http.HandlerFunc(s.notFoundPage)
	}
	return s.timeBody(false, answer)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.Ping(r.Context()); err != nil {
		s.logError(r, "healthz", err)
		return fault.New(fault.Unavailable, "database unavailable")
	}
	writeJSON(w, http.StatusOK, healthView{Status: "ok"})
	return nil
}
