package reconcile

import (
	"context"
	"net"
	"testing"

	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/store"
)

// TestNodeHealthRecordsTheSFTPPort: the port a node serves SFTP on comes
// to the panel with its health, for the web UI to show users.
func TestNodeHealthRecordsTheSFTPPort(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := nodetest.Start(t, func(port int) string { return storeNode(t, st, "n", port) }, func(c *node.Config) {
		// No sign-in is made: the panel URL and token only turn SFTP on.
		c.SFTPListen, c.PanelURL, c.PanelToken = "127.0.0.1:0", "http://127.0.0.1:1", "berth_pnl_unused"
	})
	w := &worker{r: New(Config{Store: st}), nodeID: "n"}
	w.pass(ctx)
	got, err := st.NodeByID(ctx, "n")
	if err != nil {
		t.Fatal(err)
	}
	if want := n.Daemon.SFTPAddr().(*net.TCPAddr).Port; got.SFTPPort != want {
		t.Errorf("the node's SFTP port is recorded as %d, want %d", got.SFTPPort, want)
	}
}
