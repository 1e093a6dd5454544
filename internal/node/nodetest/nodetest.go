// Package nodetest runs a real node daemon on the in-memory runtime
// (runtime/fake) for the tests of the node's callers, the panel and the
// reconciler: the daemon serves its whole /v1 API on a loopback port, so
// that a test drives the very protocol a panel speaks to a node, with its
// generations, errors and consoles, and no Docker.
package nodetest

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

// Node is a node daemon on a fake runtime, served on 127.0.0.1 until the
// test ends or Stop.
type Node struct {
	// Daemon is the daemon itself.
	Daemon *node.Daemon
	// Runtime is its runtime, for the test to play the game, inject
	// failures and read what the daemon asked.
	Runtime *fake.Runtime
	// Port is the loopback port the daemon serves on.
	Port int
	// Token is the bearer token the daemon accepts.
	Token string
	// Dir is the daemon's data folder.
	Dir string

	client   *nodeapi.Client
	stopOnce sync.Once
	stop     func()
}

// Start starts a node daemon on a new fake runtime. It listens first and
// calls register with the port, which answers the token the daemon is to
// accept: a panel issues a node's token when the node is configured, once
// it knows the node's address. Each option may change the daemon's
// configuration before it starts.
func Start(t testing.TB, register func(port int) (token string), options ...func(*node.Config)) *Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nodetest: listen: %v", err)
	}
	n := &Node{Runtime: fake.New(), Port: ln.Addr().(*net.TCPAddr).Port, Dir: t.TempDir()}
	n.Token = register(n.Port)
	cfg := node.Config{Dir: n.Dir, TokenSHA256: secret.Hash(n.Token), Version: "test",
		StopTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second}
	for _, option := range options {
		option(&cfg)
	}
	n.Daemon, err = node.New(cfg, n.Runtime, nil)
	if err != nil {
		ln.Close()
		t.Fatalf("nodetest: node.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Daemon.Serve(ctx, ln) }()
	n.client = nodeapi.NewClient(n.URL(), n.Token, nil)
	n.stop = func() {
		n.client.CloseIdleConnections()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("nodetest: node on port %d: %v", n.Port, err)
		}
	}
	t.Cleanup(n.Stop)
	return n
}

// Stop shuts the daemon down and closes its port, for a test of a node
// that went away; later calls do nothing.
func (n *Node) Stop() { n.stopOnce.Do(n.stop) }

// URL is the daemon's base URL.
func (n *Node) URL() string { return "http://127.0.0.1:" + strconv.Itoa(n.Port) }

// Client is a client of the daemon's API with its token, as the panel's
// would be.
func (n *Node) Client() *nodeapi.Client { return n.client }
