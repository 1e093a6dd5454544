package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
	"github.com/berth-dev/berth/internal/secret"
)

const panelToken = "node-token-abcdefghijklmnopqrstuvwxyz-0123456789"

// fakePanel answers POST /nodes/configure for one key.
func fakePanel(t *testing.T, key string, resp nodeapi.ConfigureResponse) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/nodes/configure" || r.URL.RawQuery != "" {
			http.Error(w, `{"error":"wrong route"}`, http.StatusNotFound)
			return
		}
		var req nodeapi.ConfigureRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ConfigureKey != key {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"Node not found"}`))
			return
		}
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestConfigureStoresOnlyTheTokenHash(t *testing.T) {
	panel := fakePanel(t, "key-1", nodeapi.ConfigureResponse{NodeID: "n1", Token: panelToken, Address: "127.0.0.1", Port: 8081})
	dir := filepath.Join(t.TempDir(), "data")

	if err := Configure(context.Background(), panel.URL, "key-1", dir); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	path := filepath.Join(dir, ConfigFileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), panelToken) || strings.Contains(string(raw), "key-1") {
		t.Fatalf("node.json holds a secret:\n%s", raw)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("node.json mode: %v %v", info, err)
	}
	f, err := ReadConfigFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := ConfigFile{PanelURL: panel.URL, NodeID: "n1", TokenSHA256: secret.Hash(panelToken), Address: "127.0.0.1", Port: 8081}
	if f != want {
		t.Errorf("node.json = %+v, want %+v", f, want)
	}

	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8081" || cfg.TokenSHA256 != secret.Hash(panelToken) || cfg.Dir != dir {
		t.Errorf("LoadConfig = %+v", cfg)
	}
	// The daemon built from it accepts the panel's token.
	d, err := New(cfg, fake.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/health", nil)
	r.Header.Set("Authorization", "Bearer "+panelToken)
	w := httptest.NewRecorder()
	d.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("health with the configured token: %d", w.Code)
	}
}

func TestReconfigureOverwritesIdentityAndKeepsTLS(t *testing.T) {
	dir := t.TempDir()
	if err := WriteConfigFile(dir, ConfigFile{NodeID: "old", TokenSHA256: secret.Hash("old"), Port: 1, TLSCert: "tls/cert.pem", TLSKey: "/etc/berth/key.pem"}); err != nil {
		t.Fatal(err)
	}
	panel := fakePanel(t, "key-2", nodeapi.ConfigureResponse{NodeID: "new", Token: panelToken, Address: "10.0.0.2", Port: 9000})
	if err := Configure(context.Background(), panel.URL, "key-2", dir); err != nil {
		t.Fatal(err)
	}
	f, err := ReadConfigFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.NodeID != "new" || f.TokenSHA256 != secret.Hash(panelToken) || f.Port != 9000 || f.TLSCert != "tls/cert.pem" {
		t.Errorf("after reconfigure: %+v", f)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSCert != filepath.Join(dir, "tls/cert.pem") || cfg.TLSKey != "/etc/berth/key.pem" {
		t.Errorf("TLS paths = %q %q", cfg.TLSCert, cfg.TLSKey)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data folder holds %d entries, want only node.json", len(entries))
	}
}

func TestConfigureWithWrongKeyWritesNothing(t *testing.T) {
	panel := fakePanel(t, "right", nodeapi.ConfigureResponse{NodeID: "n", Token: panelToken, Port: 1})
	dir := t.TempDir()
	err := Configure(context.Background(), panel.URL, "wrong", dir)
	if !nodeapi.IsNotFound(err) || !strings.Contains(err.Error(), "Node not found") {
		t.Fatalf("Configure with a wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error names the key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("node.json written after a failure: %v", err)
	}
}

func TestLoadConfigOfUnconfiguredNode(t *testing.T) {
	_, err := LoadConfig(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "berth node configure") {
		t.Errorf("LoadConfig: %v", err)
	}
}

func TestConfiguredNodeServesSFTPWithItsPanelToken(t *testing.T) {
	const sftpToken = "berth_pnl_token-the-node-calls-the-panel-with"
	for _, tc := range []struct {
		name       string
		panelToken string
		listen     string
		serves     bool
		log        string
	}{
		{"configured with a panel token", sftpToken, "127.0.0.1:0", true, "SFTP host key"},
		{"configured before panel tokens", "", "127.0.0.1:0", false, "run `berth node configure` again"},
		{"turned off", sftpToken, SFTPOff, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			panel := fakePanel(t, "key", nodeapi.ConfigureResponse{NodeID: "n1", Token: panelToken, PanelToken: tc.panelToken,
				Address: "127.0.0.1", Port: 8081})
			dir := t.TempDir()
			if err := Configure(context.Background(), panel.URL, "key", dir); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PanelURL != panel.URL || cfg.PanelToken != tc.panelToken {
				t.Fatalf("LoadConfig = panel %q, token %q", cfg.PanelURL, cfg.PanelToken)
			}
			cfg.SFTPListen = tc.listen
			var logs bytes.Buffer
			d, err := New(cfg, fake.New(), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if (d.SFTPAddr() != nil) != tc.serves {
				t.Errorf("SFTP address %v, want one: %v", d.SFTPAddr(), tc.serves)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs lack %q:\n%s", tc.log, logs.String())
			}
			r := httptest.NewRequest(http.MethodGet, "/v1/health", nil)
			r.Header.Set("Authorization", "Bearer "+panelToken)
			w := httptest.NewRecorder()
			d.Handler().ServeHTTP(w, r)
			var h nodeapi.Health
			if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil {
				t.Fatal(err)
			}
			if tc.serves && h.SFTPPort != d.SFTPAddr().(*net.TCPAddr).Port || !tc.serves && h.SFTPPort != 0 {
				t.Errorf("health reports SFTP port %d, SFTP listens on %v", h.SFTPPort, d.SFTPAddr())
			}
		})
	}
}
