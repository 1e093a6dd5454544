package panel_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

func TestInstallLogAnswersTheNodesInstallLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		node, n := startNode(t, p)
		// The script prints more than the default tail, then fails.
		const printed = nodeapi.DefaultInstallLogTail + 10
		n.Runtime.SetInstall(func(_ context.Context, _ runtime.InstallJob, out io.Writer) (int, error) {
			for i := 1; i <= printed; i++ {
				fmt.Fprintf(out, "line %d\n", i)
			}
			return 3, nil
		})
		tmpl := images.Template{Name: "Installed", Image: "ghcr.io/berth-dev/game:1",
			Scripts: images.Scripts{Installer: &images.InstallScript{Image: "busybox:1", Entrypoint: "sh", Script: "exit 3"}}}
		body := deployBody(p.createUser("owner"), node, "25565", "25565")
		body["image"] = addTemplate(t, p.st, tmpl)
		id := p.deploy(body)
		if _, st := ensureOnNode(t, p, n, id); !st.Installing {
			t.Fatalf("ensure of an instance with an install script = %+v, want installing", st)
		}
		waitUntil(t, "the install to fail", func() bool {
			st, err := n.Client().GetInstance(context.Background(), id)
			return err == nil && st.InstallError != ""
		})

		m := p.expect(200, "GET", "/api/instances/install-log/"+id+"?tail=7", nil).object(t)
		hasKeys(t, "install log", m, "id", "lines", "installing", "installed", "error")
		lines, _ := m["lines"].([]any)
		last := "[berth] install script exited with code 3"
		if m["id"] != id || len(lines) != 7 || lines[0] != fmt.Sprintf("line %d", printed-5) || lines[6] != last ||
			m["installing"] != false || m["installed"] != false {
			t.Errorf("install log of %v: %d lines from %v, installing %v, installed %v; want the last 7 lines of a failed install",
				m["id"], len(lines), first(lines), m["installing"], m["installed"])
		}
		if msg, _ := m["error"].(string); !strings.Contains(msg, "install script exited with code 3") {
			t.Errorf("install log error = %q, want the script's exit code", msg)
		}
		// Without a tail, the node's default.
		m = p.expect(200, "GET", "/api/instances/install-log/"+id, nil).object(t)
		lines, _ = m["lines"].([]any)
		if len(lines) != nodeapi.DefaultInstallLogTail || lines[len(lines)-1] != last {
			t.Errorf("install log without a tail has %d lines, want the default %d ending %q",
				len(lines), nodeapi.DefaultInstallLogTail, last)
		}
	})
}

// first returns the first of lines, or nil when there are none.
func first(lines []any) any {
	if len(lines) == 0 {
		return nil
	}
	return lines[0]
}

func TestInstallLogRejectsBadRequests(t *testing.T) {
	forEachMode(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		id := p.deploy(deployBody(user, node, "25565", "25565"))
		before := p.snapshot()
		if r := p.send("", "GET", "/api/instances/install-log/"+id, nil); r.code != 401 {
			t.Errorf("without a key: %d %s, want 401", r.code, r.body)
		}
		for _, q := range []string{"?tail=", "?tail=0", "?tail=-1", "?tail=abc", "?tail=5001"} {
			p.expectError(400, "GET", "/api/instances/install-log/"+id+q, nil, "tail")
		}
		p.expectError(400, "GET", "/api/instances/install-log/a%00b", nil, "id")
		p.expectError(404, "GET", "/api/instances/install-log/no-such-instance", nil, "not found")
		// The node of setup was never configured: it cannot be asked.
		p.expectError(503, "GET", "/api/instances/install-log/"+id, nil, "not configured")
		p.expectError(405, "POST", "/api/instances/install-log/"+id, nil)
		p.expectUnchanged(before)
	})
}
