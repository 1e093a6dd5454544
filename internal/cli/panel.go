package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/store"
)

func runPanel(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlags("panel")
	var cfg config.Panel
	config.BindPanel(fs, &cfg)
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := openPanel(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.store.Close()
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
	log.Info("panel listening", "url", "http://"+ln.Addr().String(), "version", Version)
	return p.serve(ctx, ln)
}

// panelProcess is a panel ready to serve: its database, API and
// reconciler.
type panelProcess struct {
	store *store.Store
	api   *panel.Server
	rec   *reconcile.Reconciler
	log   *slog.Logger
}

func openPanel(ctx context.Context, cfg config.Panel, log *slog.Logger) (*panelProcess, error) {
	mode, err := panel.ParseMode(cfg.APICompat)
	if err != nil {
		return nil, err
	}
	data, err := config.AbsData(cfg.Data)
	if err != nil {
		return nil, err
	}
	nodeTLS, err := config.NodeTLS(cfg.NodeCA)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, data)
	if err != nil {
		return nil, err
	}
	builtins, err := images.Builtins()
	if err == nil {
		err = st.AddMissingTemplates(ctx, builtins)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("built-in templates: %w", err)
	}
	rec := reconcile.New(reconcile.Config{Store: st, Log: log, NodeTLS: nodeTLS})
	api := panel.New(panel.Config{
		Store: st, Log: log, Mode: mode, PublicURL: cfg.PublicURL, InstallTimeout: cfg.InstallTimeout, Kick: rec.Kick, KickNode: rec.KickNode,
		MaxUploadBytes: cfg.MaxUploadMiB << 20, NodeTLS: nodeTLS,
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, Require2FAAdmins: cfg.Require2FAAdmins,
	})
	return &panelProcess{store: st, api: api, rec: rec, log: log}, nil
}

// serve runs the API on ln and the reconciler until ctx ends, then shuts
// down gracefully: in-flight requests finish (for up to 30s), and the
// reconciler stops between two calls.
func (p *panelProcess) serve(ctx context.Context, ln net.Listener) error {
	recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { p.rec.Run(recCtx) })
	err := p.api.Serve(ctx, ln)
	stopRec()
	wg.Wait()
	return err
}
