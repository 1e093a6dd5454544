package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/node"
)

// runNode is `berth node` and `berth node configure`.
func runNode(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if len(args) > 0 && args[0] == "configure" {
		return runNodeConfigure(ctx, args[1:], stdout)
	}
	fs := newFlags("node")
	var data string
	config.BindData(fs, &data)
	listen := fs.String("listen", "",
		"address to listen on, when it differs from the node record's address and port (BERTH_NODE_LISTEN)")
	var metricsListen string
	config.BindMetrics(fs, &metricsListen)
	sftpListen := fs.String("sftp-listen", node.DefaultSFTPListen,
		"address to serve SFTP on; \"off\" turns it off (BERTH_SFTP_LISTEN)")
	settings := bindNodeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := config.AbsData(data)
	if err != nil {
		return err
	}
	cfg, err := node.LoadConfig(dir)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	settings.apply(&cfg)
	reg := metricsRegistry(metricsListen)
	cfg.KeepStats = reg != nil
	cfg.SFTPListen = *sftpListen
	rt, err := settings.runtime.newRuntime(ctx, dir, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	d, err := node.New(cfg, rt, log)
	if err != nil {
		return err
	}
	if reg != nil {
		metrics.RegisterNode(reg, metrics.NodeSource{Usage: d.Usage, SFTPSessions: d.SFTPSessions})
	}
	stopMetrics, err := serveMetrics(ctx, metricsListen, reg, log)
	if err != nil {
		d.Close()
		return err
	}
	log.Info("node listening", "address", cfg.Listen, "tls", cfg.TLSCert != "", "data", dir)
	err = d.Run(ctx)
	return errors.Join(err, stopMetrics())
}

func runNodeConfigure(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("node configure")
	panelURL := fs.String("panel", "", "the panel's URL, as the configure command gives it")
	key := fs.String("key", "", "the one-time configure key")
	var data string
	config.BindData(fs, &data)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *panelURL == "" || *key == "" {
		return errors.New("node configure: -panel and -key are required")
	}
	dir, err := config.AbsData(data)
	if err != nil {
		return err
	}
	if err := node.Configure(ctx, *panelURL, *key, dir); err != nil {
		return fmt.Errorf("node configure: %w", err)
	}
	fmt.Fprintf(stdout, "Node configured; its settings are in %s. Start it with: berth node -data %s\n",
		filepath.Join(dir, node.ConfigFileName), dir)
	return nil
}
