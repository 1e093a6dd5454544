package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/webhook"
)

func runPanel(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("panel")
	var cfg config.Panel
	config.BindPanel(fs, &cfg)
	if err := parse(fs, args); err != nil {
		return err
	}
	reg := metricsRegistry(cfg.MetricsListen)
	p, err := openPanel(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer p.close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	url := cfg.PublicURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	if err := printFirstStart(ctx, p.store, stdout, url); err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(ctx, cfg.MetricsListen, reg, log)
	if err != nil {
		ln.Close()
		return err
	}
	log.Info("panel listening", "url", "http://"+ln.Addr().String(), "version", Version)
	err = p.serve(ctx, ln)
	return errors.Join(err, stopMetrics())
}

// panelProcess is a panel ready to serve: its database, API, reconciler
// and webhook worker.
type panelProcess struct {
	store *store.Store
	api   *panel.Server
	rec   *reconcile.Reconciler
	hooks *webhook.Worker
	log   *slog.Logger
	// unlock lets go of the SQLite database (store.LockPanel).
	unlock func()
}

// close closes the database, then lets another panel have it.
func (p *panelProcess) close() {
	p.store.Close()
	p.unlock()
}

// openPanel opens the database and builds the API and the reconciler; with
// a registry, their metrics are registered on it.
func openPanel(ctx context.Context, cfg config.Panel, log *slog.Logger, reg *prometheus.Registry) (*panelProcess, error) {
	mode, err := panel.ParseMode(cfg.APICompat)
	if err != nil {
		return nil, err
	}
	if cfg.DefaultBackupLimit < 0 || cfg.DefaultBackupLimit > panel.MaxBackupLimit {
		return nil, fmt.Errorf("-default-backup-limit: must be from 0 to %d", panel.MaxBackupLimit)
	}
	data, err := config.AbsData(cfg.Data)
	if err != nil {
		return nil, err
	}
	nodeTLS, err := config.NodeTLS(cfg.NodeCA)
	if err != nil {
		return nil, err
	}
	unlock, err := store.LockPanel(cfg.DatabaseURL, data)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, data)
	if err != nil {
		unlock()
		return nil, err
	}
	builtins, err := images.Builtins()
	if err == nil {
		err = st.AddMissingTemplates(ctx, builtins)
	}
	if err != nil {
		st.Close()
		unlock()
		return nil, fmt.Errorf("built-in templates: %w", err)
	}
	address := cfg.PublicURL
	if address == "" {
		address = cfg.Listen
	}
	rec := reconcile.New(reconcile.Config{Store: st, Log: log, NodeTLS: nodeTLS, PanelID: panelID(), PanelAddress: address})
	var observe httplog.Observer
	if reg != nil {
		observe = metrics.RegisterPanel(reg, metrics.PanelSource{Store: st, Reconciler: rec.Stats})
	}
	api := panel.New(panel.Config{
		Store: st, Log: log, Mode: mode, PublicURL: cfg.PublicURL, InstallTimeout: cfg.InstallTimeout, Kick: rec.Kick, KickNode: rec.KickNode,
		MaxUploadBytes: cfg.MaxUploadMiB << 20, NodeTLS: nodeTLS,
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, Require2FAAdmins: cfg.Require2FAAdmins,
		ObserveRequest:       observe,
		AllowPrivateWebhooks: cfg.AllowPrivateWebhooks,
		DefaultBackupLimit:   cfg.DefaultBackupLimit,
	})
	hooks := webhook.NewWorker(webhook.Config{Store: st, Log: log, AllowPrivate: cfg.AllowPrivateWebhooks})
	return &panelProcess{store: st, api: api, rec: rec, hooks: hooks, log: log, unlock: unlock}, nil
}

// panelID names this panel process among those sharing a database: the
// machine's name, for the operator reading GET /api/nodes' drivenBy, and
// a random part, since a restarted panel is another holder.
func panelID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "panel"
	}
	return host + "-" + store.NewID(3)
}

// serve runs the API on ln, the reconciler, the schedules and the webhook
// worker until ctx ends, then shuts down gracefully: in-flight requests
// finish (for up to 30s), the reconciler stops between two calls, a
// schedule's run stops before its next task, its result recorded, and the
// webhook worker after the attempt in flight.
func (p *panelProcess) serve(ctx context.Context, ln net.Listener) error {
	recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { p.rec.Run(recCtx) })
	wg.Go(func() { p.listen(recCtx) })
	wg.Go(func() { p.api.RunSchedules(recCtx) })
	wg.Go(func() { p.hooks.Run(recCtx) })
	err := p.api.Serve(ctx, ln)
	stopRec()
	wg.Wait()
	return err
}

// listen passes the other panels' changes to the API's caches, and their
// changes to a node's instances to the reconciler (a deploy served by
// another panel, for a node this one drives), until ctx ends
// (store.Listen: PostgreSQL only), reconnecting after a pause when the
// connection drops.
func (p *panelProcess) listen(ctx context.Context) {
	changed := func(table, node string) {
		p.api.Changed(table)
		if node != "" {
			p.rec.KickNode(node)
		}
	}
	for {
		err := p.store.Listen(ctx, changed)
		if err == nil {
			return
		}
		p.log.Warn("listen for other panels' changes; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
