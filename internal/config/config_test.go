package config

import (
	"context"
	"encoding/pem"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNodeTLSTrustsTheGivenAuthorityOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(c *http.Client) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	cfg, err := NodeTLS(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}); err != nil {
		t.Errorf("a node signed by the -node-ca authority was refused: %v", err)
	}
	if err := get(&http.Client{Transport: &http.Transport{}}); err == nil {
		t.Error("the test server's self-signed certificate was trusted without -node-ca; the test proves nothing")
	}

	if cfg, err := NodeTLS(""); cfg != nil || err != nil {
		t.Errorf("NodeTLS(\"\") = %v, %v; want nil, nil (the system's authorities)", cfg, err)
	}
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	for _, f := range []string{junk, filepath.Join(dir, "missing.pem")} {
		if _, err := NodeTLS(f); err == nil {
			t.Errorf("NodeTLS(%s) accepted a file without certificates", f)
		}
	}
}

func TestApplyEnvRefusesValuesThatDoNotParse(t *testing.T) {
	for env, bad := range map[string]string{
		"BERTH_INSTALL_TIMEOUT": "notaduration",
		"BERTH_MAX_UPLOAD_MIB":  "notanumber",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, bad)
			fs := flag.NewFlagSet("panel", flag.ContinueOnError)
			var p Panel
			BindPanel(fs, &p)
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			err := ApplyEnv(fs)
			if err == nil || !strings.Contains(err.Error(), env) {
				t.Errorf("%s=%s: err %v, want a refusal naming the variable", env, bad, err)
			}
		})
	}
}

func TestApplyEnvFillsUnsetFlagsAndLetsFlagsWin(t *testing.T) {
	t.Setenv("BERTH_INSTALL_TIMEOUT", "2m")
	t.Setenv("BERTH_MAX_UPLOAD_MIB", "notanumber")
	t.Setenv("BERTH_LISTEN", "127.0.0.1:9999")
	fs := flag.NewFlagSet("panel", flag.ContinueOnError)
	var p Panel
	BindPanel(fs, &p)
	if err := fs.Parse([]string{"-max-upload-mib", "7"}); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs); err != nil {
		t.Fatalf("ApplyEnv: %v (a flag given on the command line hides its variable)", err)
	}
	if p.InstallTimeout != 2*time.Minute || p.MaxUploadMiB != 7 || p.Listen != "127.0.0.1:9999" || p.Data != DefaultData {
		t.Errorf("config = %+v", p)
	}
}

func TestApplyEnvReadsTheSessionFlags(t *testing.T) {
	t.Setenv("BERTH_SESSION_IDLE", "30m")
	t.Setenv("BERTH_SESSION_MAX", "48h")
	t.Setenv("BERTH_REQUIRE_2FA_ADMINS", "true")
	fs := flag.NewFlagSet("panel", flag.ContinueOnError)
	var p Panel
	BindPanel(fs, &p)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if p.SessionIdle != 12*time.Hour || p.SessionMax != 30*24*time.Hour || p.Require2FAAdmins {
		t.Errorf("defaults = %v, %v, %v; want 12h, 720h, false", p.SessionIdle, p.SessionMax, p.Require2FAAdmins)
	}
	if err := ApplyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if p.SessionIdle != 30*time.Minute || p.SessionMax != 48*time.Hour || !p.Require2FAAdmins {
		t.Errorf("from the environment = %v, %v, %v; want 30m, 48h, true", p.SessionIdle, p.SessionMax, p.Require2FAAdmins)
	}
}

func TestAllowPrivateWebhooksByFlagOrEnvironment(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, false},
		{"", []string{"-allow-private-webhooks"}, true},
		{"true", nil, true},
		{"1", []string{"-allow-private-webhooks=false"}, false},
	} {
		t.Run(c.env+strings.Join(c.args, " "), func(t *testing.T) {
			if c.env != "" {
				t.Setenv("BERTH_ALLOW_PRIVATE_WEBHOOKS", c.env)
			}
			fs := flag.NewFlagSet("panel", flag.ContinueOnError)
			var p Panel
			BindPanel(fs, &p)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			if err := ApplyEnv(fs); err != nil {
				t.Fatal(err)
			}
			if p.AllowPrivateWebhooks != c.want {
				t.Errorf("AllowPrivateWebhooks = %v; want %v", p.AllowPrivateWebhooks, c.want)
			}
		})
	}
}
