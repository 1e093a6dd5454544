package panel_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/store"
)

// TestDeployAboveTheNodesCoresAnswers400NamingCPU: once a node has
// reported its cores, a deploy asking for more is refused at once, naming
// cpu, instead of sitting INSTALLING until the install timeout.
func TestDeployAboveTheNodesCoresAnswers400NamingCPU(t *testing.T) {
	p := newPanel(t, panel.Config{})
	user := p.createUser("alice")
	node, _ := p.createNode("n1", 8192, 10240)
	if err := p.st.SetNodeHealth(context.Background(), node, store.NodeOnline, "test", 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	before := p.snapshot()
	body := deployBody(user, node, "25565", "25565")
	body["cpu"] = 4
	p.expectError(400, "POST", "/api/instances/deploy", body, "cpu", "2 CPU core")
	p.expectUnchanged(before)
	body["cpu"] = 2
	p.deploy(body)
}

// TestListWithACorruptRowAnswers500AndLogs: a stored instance that no
// longer decodes is the panel's fault, not the caller's: the list answers
// 500 and logs the row, never 400.
func TestListWithACorruptRowAnswers500AndLogs(t *testing.T) {
	dir := t.TempDir()
	p := newPanelOn(t, openStore(t, dir), panel.Config{})
	user := p.createUser("alice")
	node, _ := p.createNode("n1", 8192, 10240)
	id := p.deploy(deployBody(user, node, "25565", "25565"))
	raw, err := sql.Open("sqlite", filepath.Join(dir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE instances SET ports = 'not ports' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	p.expectError(500, "GET", "/api/instances", nil, "internal error")
	if logs := p.logs.String(); !strings.Contains(logs, "instance "+id+": stored ports") {
		t.Errorf("the corrupt row is not logged; the log:\n%s", logs)
	}
}
