package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// TestLocalNodeIsCreatedOnceAcrossACrash: `berth up` dies after storing
// its local node but before writing the node's own config file. The next
// start must complete that node, not register a second "local" one.
func TestLocalNodeIsCreatedOnceAcrossACrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nodeDir := filepath.Join(dir, "node")
	if err := ensureLocalNode(ctx, st, nodeDir, "127.0.0.1:8081"); err != nil {
		t.Fatal(err)
	}
	// The crash: the database has the node, the node's folder has nothing.
	if err := os.Remove(filepath.Join(nodeDir, node.ConfigFileName)); err != nil {
		t.Fatal(err)
	}
	if err := ensureLocalNode(ctx, st, nodeDir, "127.0.0.1:8081"); err != nil {
		t.Fatal(err)
	}
	nodes, err := st.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 {
		t.Fatalf("%d nodes after a crash and a restart, want the one local node: %+v", len(nodes), nodes)
	}
	f, err := node.ReadConfigFile(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	if f.NodeID != nodes[0].ID || f.TokenSHA256 != secret.Hash(nodes[0].Token) || nodes[0].Token == "" {
		t.Errorf("node file names node %s with token hash %s; want the stored node %s and its token's hash",
			f.NodeID, f.TokenSHA256, nodes[0].ID)
	}
	if f.PanelToken == "" || secret.Hash(f.PanelToken) != nodes[0].PanelTokenHash {
		t.Errorf("the local node's panel token hashes to %q, the stored hash is %q: want a token and its hash",
			secret.Hash(f.PanelToken), nodes[0].PanelTokenHash)
	}
}

// TestLocalNodeOfAnOlderDataFolderGetsAPanelToken: a data folder from
// before SFTP has a node.json without a panel token; the next start gives
// it one, and keeps it on the start after.
func TestLocalNodeOfAnOlderDataFolderGetsAPanelToken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nodeDir := filepath.Join(dir, "node")
	if err := ensureLocalNode(ctx, st, nodeDir, "127.0.0.1:8081"); err != nil {
		t.Fatal(err)
	}
	old, err := node.ReadConfigFile(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	old.PanelToken = ""
	if err := node.WriteConfigFile(nodeDir, old); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for range 2 {
		if err := ensureLocalNode(ctx, st, nodeDir, "127.0.0.1:8081"); err != nil {
			t.Fatal(err)
		}
		f, err := node.ReadConfigFile(nodeDir)
		if err != nil {
			t.Fatal(err)
		}
		n, err := st.NodeByPanelToken(ctx, secret.Hash(f.PanelToken))
		if err != nil || n.ID != f.NodeID {
			t.Fatalf("the panel token of node.json finds %+v, %v; want node %s", n, err, f.NodeID)
		}
		tokens = append(tokens, f.PanelToken)
	}
	if tokens[0] != tokens[1] {
		t.Error("a start replaced a panel token that was there")
	}
}

func TestLocalNodeCallsThePanelOverLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 9000}, "http://127.0.0.1:9000"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 9000}, "http://[::1]:9000"},
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 80}, "http://192.0.2.10:80"},
	} {
		if got := loopbackURL(tc.addr); got != tc.want {
			t.Errorf("loopbackURL(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
