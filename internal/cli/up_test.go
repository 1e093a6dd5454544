package cli

import (
	"context"
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
}
