package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// runUp is `berth up`: the panel and a local node in one process, on
// loopback, with SQLite and the machine's Docker engine.
func runUp(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return up(ctx, args, stdout, log, nil)
}

// openRuntime opens the runtime of the node whose data folder is dir, and
// returns how to release it.
type openRuntime func(ctx context.Context, dir string, log *slog.Logger) (rt runtime.Runtime, release func() error, err error)

// up is runUp on the runtime open gives; nil means the Docker engine, as
// the flags set it up. Tests give the in-memory one.
func up(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger, open openRuntime) error {
	fs := newFlags("up")
	var cfg config.Panel
	config.BindPanel(fs, &cfg)
	nodeListen := fs.String("node-listen", "127.0.0.1:8081",
		"loopback address of the local node's API (BERTH_NODE_LISTEN)")
	sftpListen := fs.String("sftp-listen", defaultUpSFTPListen,
		"address the local node serves SFTP on; \"off\" turns it off (BERTH_SFTP_LISTEN)")
	settings := bindNodeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	// The panel's and the node's metrics share one registry, and one
	// listener.
	reg := metricsRegistry(cfg.MetricsListen)
	p, err := openPanel(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer p.close()
	data, _ := config.AbsData(cfg.Data)
	nodeDir := filepath.Join(data, "node")
	if err := ensureLocalNode(ctx, p.store, nodeDir, *nodeListen); err != nil {
		return err
	}
	ncfg, err := node.LoadConfig(nodeDir)
	if err != nil {
		return err
	}
	settings.apply(&ncfg)
	ncfg.KeepStats = reg != nil
	if open == nil {
		open = settings.runtime.open
	}
	rt, release, err := open(ctx, nodeDir, log.With("component", "node"))
	if err != nil {
		return err
	}
	defer release()
	ncfg.SFTPListen = *sftpListen
	panelLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	url := "http://" + panelLn.Addr().String()
	// The local node calls its panel over loopback, whatever address the
	// panel listens on.
	ncfg.PanelURL = loopbackURL(panelLn.Addr())
	daemon, err := node.New(ncfg, rt, log.With("component", "node"))
	if err != nil {
		panelLn.Close()
		return err
	}
	if reg != nil {
		metrics.RegisterNode(reg, metrics.NodeSource{Usage: daemon.Usage, SFTPSessions: daemon.SFTPSessions})
	}
	nodeLn, err := net.Listen("tcp", ncfg.Listen)
	if err != nil {
		panelLn.Close()
		daemon.Close()
		return fmt.Errorf("local node: %w", err)
	}
	if err := printFirstStart(ctx, p.store, stdout, url); err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(ctx, cfg.MetricsListen, reg, log)
	if err != nil {
		daemon.Close()
		nodeLn.Close()
		panelLn.Close()
		return err
	}
	log.Info("berth up", "panel", url, "node", ncfg.Listen, "data", data)

	var wg sync.WaitGroup
	var nodeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		nodeErr = daemon.Serve(ctx, nodeLn)
	}()
	err = p.serve(ctx, panelLn)
	wg.Wait()
	return errors.Join(err, nodeErr, stopMetrics())
}

// localNodeName names the node `berth up` creates for its own machine.
const localNodeName = "local"

// ensureLocalNode registers this machine as a node the first time: the node
// record with its token (the panel's copy in the database, the node's hash
// in nodeDir), the address it listens on, and the panel token it calls the
// panel with. Later starts reuse it. The
// record is made in one step before the file, and is found again by its
// local mark, so a crash in between leaves a record the next start
// completes, never a second "local" node.
func ensureLocalNode(ctx context.Context, st *store.Store, nodeDir, listen string) error {
	if _, err := node.ReadConfigFile(nodeDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	} else if err == nil {
		return ensureLocalPanelToken(ctx, st, nodeDir)
	}
	if err := createLocalNode(ctx, st, nodeDir, listen); err != nil {
		return err
	}
	return ensureLocalPanelToken(ctx, st, nodeDir)
}

// defaultUpSFTPListen keeps `berth up`'s SFTP on loopback, as its API is.
const defaultUpSFTPListen = "127.0.0.1:2022"

// loopbackURL is the http URL the local node reaches a listener at: its
// own address, or loopback for an unspecified one (0.0.0.0, ::).
func loopbackURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// ensureLocalPanelToken gives the local node the panel token its SFTP
// calls the panel with, the first time (also for a data folder made
// before there was one): the hash goes to the node record, then the token
// to node.json. A crash in between mints another at the next start.
func ensureLocalPanelToken(ctx context.Context, st *store.Store, nodeDir string) error {
	f, err := node.ReadConfigFile(nodeDir)
	if err != nil || f.PanelToken != "" {
		return err
	}
	token := secret.NewToken(panel.PanelTokenPrefix)
	if err := st.SetNodePanelToken(ctx, f.NodeID, secret.Hash(token)); err != nil {
		return fmt.Errorf("local node: %w", err)
	}
	f.PanelToken = token
	return node.WriteConfigFile(nodeDir, f)
}

// createLocalNode stores the local node's record, or finds the one a
// crashed start stored, and writes its node.json.
func createLocalNode(ctx context.Context, st *store.Store, nodeDir, listen string) error {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("node-listen: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("node-listen: bad port %q", portText)
	}
	n, err := st.EnsureLocalNode(ctx, store.Node{
		ID: store.NewID(16), Name: localNodeName, Tags: "local", RAMMiB: machineMemoryMiB(), DiskMiB: diskMiB(nodeDir),
		Processor: fmt.Sprintf("%d CPUs", goruntime.NumCPU()), Address: host, Port: port, Scheme: "http",
		Status: store.NodeUnconfigured, Token: secret.NewToken("berth_node_"), CPUs: goruntime.NumCPU(), CreatedAt: time.Now(),
	})
	if err != nil {
		return err
	}
	// The record's address, not the flag's: after a crash the record is
	// the one from the first start, and it is where the panel dials.
	return node.WriteConfigFile(nodeDir, node.ConfigFile{
		NodeID: n.ID, TokenSHA256: secret.Hash(n.Token), Address: n.Address, Port: n.Port,
	})
}

// machineMemoryMiB reads MemTotal from /proc/meminfo; 1 GiB when unknown.
func machineMemoryMiB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 1024
}

// diskMiB is the size of the file system holding dir; 10 GiB when unknown.
func diskMiB(dir string) int64 {
	os.MkdirAll(dir, 0o750)
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return 10 * 1024
	}
	return int64(s.Blocks) * s.Bsize >> 20
}
