package panel_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/node/nodetest"
	"github.com/berth-dev/berth/internal/node/sftpd"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
)

// The SFTP tests run a real panel over HTTP and a real node daemon that
// serves SFTP on loopback and asks that panel, with the panel token its
// configure gave it, about every sign-in and every open session. Clients
// are pkg/sftp's, and once Debian's sftp command.

// revokeBound is DESIGN §10's promise: a revocation ends the open
// sessions within 5 s.
const revokeBound = 5 * time.Second

// sftpPanel is a clientPanel whose node serves SFTP.
type sftpPanel struct {
	*clientPanel
	// addr is the node's SFTP address; hostKey its host key.
	addr    string
	hostKey ssh.PublicKey
}

func newSFTPPanel(t *testing.T) *sftpPanel {
	t.Helper()
	p := newPanel(t, panel.Config{})
	c := &clientPanel{testPanel: p, callers: map[string]cred{}}
	srv := httptest.NewServer(p.handler)
	t.Cleanup(srv.Close)
	c.url = srv.URL
	var panelToken string
	c.node = nodetest.Start(t, func(port int) string {
		resp := configureNode(t, p, port)
		c.nodeID, panelToken = resp.NodeID, resp.PanelToken
		return resp.Token
	}, func(cfg *node.Config) {
		cfg.SFTPListen, cfg.PanelURL, cfg.PanelToken = "127.0.0.1:0", srv.URL, panelToken
	})
	if !strings.HasPrefix(panelToken, panel.PanelTokenPrefix) {
		t.Fatalf("configure answered the panel token %q", panelToken)
	}
	addr := c.node.Daemon.SFTPAddr()
	if addr == nil {
		t.Fatal("the node serves no SFTP")
	}
	key, err := sftpd.LoadHostKey(c.node.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return &sftpPanel{clientPanel: c, addr: addr.String(), hostKey: key.PublicKey()}
}

// session is one open SFTP session.
type session struct {
	*sftp.Client
	conn *ssh.Client
}

// dial signs in as user with auth and opens SFTP.
func (s *sftpPanel) dial(user string, auth ssh.AuthMethod) (*session, error) {
	s.t.Helper()
	conn, err := ssh.Dial("tcp", s.addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey), Timeout: failBound})
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.t.Cleanup(func() { c.Close(); conn.Close() })
	return &session{Client: c, conn: conn}, nil
}

// open signs in as username on instance with the password, failing the
// test if it cannot.
func (s *sftpPanel) open(username, instance string) *session {
	s.t.Helper()
	se, err := s.dial(username+"."+instance, ssh.Password(userPassword))
	if err != nil {
		s.t.Fatalf("sign in as %s on %s: %v", username, instance, err)
	}
	return se
}

// addKey adds a new key to the account of caller as, and returns it with
// the key's id.
func (s *sftpPanel) addKey(as string) (ssh.Signer, string) {
	s.t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		s.t.Fatal(err)
	}
	m := s.expectAs(201, as, "POST", "/api/client/account/ssh-keys",
		map[string]any{"publicKey": string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}).object(s.t)
	return signer, m["id"].(string)
}

// expectEnded fails unless the session's connection closes within
// revokeBound.
func expectEnded(t *testing.T, se *session, why string) {
	t.Helper()
	done := make(chan struct{})
	go func() { se.conn.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(revokeBound):
		t.Fatalf("the session was still open %v after %s", revokeBound, why)
	}
	if _, err := se.ReadDir("/"); err == nil {
		t.Errorf("the session still lists files after %s", why)
	}
}

// isRefusal reports whether err is SSH's refusal of a sign-in.
func isRefusal(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

func TestSFTPSignInIsOneRefusalForEveryWrongThing(t *testing.T) {
	s := newSFTPPanel(t)
	alice := s.user("alice", false)
	s.user("bob", false)
	id := s.readyInstanceOf(alice, "25565")
	s.sessionFor("alice", "alice")
	key, _ := s.addKey("alice")

	se := s.open("alice", id)
	if _, err := se.ReadDir("/"); err != nil {
		t.Fatalf("list as the owner: %v", err)
	}
	if _, err := s.dial("alice."+id, ssh.PublicKeys(key)); err != nil {
		t.Fatalf("sign in with the account's key: %v", err)
	}
	// Each session's start is in the instance's activity, from the
	// client's address.
	page := s.expectAs(200, "alice", "GET", "/api/client/instances/"+id+"/activity", nil).object(t)
	logins := 0
	for _, e := range page["data"].([]any) {
		e := e.(map[string]any)
		actor := e["actor"].(map[string]any)
		if e["action"] == "instance.sftp.login" && actor["kind"] == "sftp" && actor["userId"] == alice && e["ip"] == "127.0.0.1" {
			logins++
		}
	}
	if logins != 2 {
		t.Errorf("the activity records %d SFTP sign-ins of alice from 127.0.0.1, want 2: %v", logins, page["data"])
	}
	for name, attempt := range map[string]struct {
		user string
		auth ssh.AuthMethod
	}{
		"wrong password":     {"alice." + id, ssh.Password("wrong password")},
		"unknown user":       {"nobody." + id, ssh.Password(userPassword)},
		"unknown instance":   {"alice.0b5c3e2a-6f1d-4c8e-9a7b-1d2e3f4a5b6c", ssh.Password(userPassword)},
		"not the user's":     {"bob." + id, ssh.Password(userPassword)},
		"another user's key": {"bob." + id, ssh.PublicKeys(key)},
	} {
		if _, err := s.dial(attempt.user, attempt.auth); !isRefusal(err) {
			t.Errorf("%s: %v, want the one refusal", name, err)
		}
	}
}

func TestSFTPSubuserNeedsSFTPAndFilesWriteToChange(t *testing.T) {
	s := newSFTPPanel(t)
	alice := s.user("alice", false)
	id := s.readyInstanceOf(alice, "25565")
	for _, tc := range []struct {
		name  string
		perms []access.Permission
		// sftp is whether it may sign in; write whether it may change.
		sftp, write bool
	}{
		{"console only", []access.Permission{access.ConsoleRead, access.FilesWrite}, false, false},
		{"sftp, read only", []access.Permission{access.SFTP, access.FilesRead}, true, false},
		{"sftp and files.write", []access.Permission{access.SFTP, access.FilesWrite}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "")
			name = strings.ReplaceAll(strings.ReplaceAll(name, ",", ""), ".", "")
			s.grant(id, s.user(name, false), tc.perms...)
			se, err := s.dial(name+"."+id, ssh.Password(userPassword))
			if !tc.sftp {
				if !isRefusal(err) {
					t.Fatalf("sign-in without sftp: %v, want the refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := se.Create("/" + name + ".txt")
			if err == nil {
				_, err = f.Write([]byte("hello"))
				err = errors.Join(err, f.Close())
			}
			if (err == nil) != tc.write {
				t.Errorf("write: %v, want it to succeed: %v", err, tc.write)
			}
			if _, err := se.ReadDir("/"); err != nil {
				t.Errorf("list: %v", err)
			}
		})
	}
}

func TestSFTPRevocationEndsOpenSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		// revoke takes the session's right away.
		revoke func(s *sftpPanel, id, carol, keyID string)
		// byKey signs alice in with her key, not her password; asCarol
		// signs carol, a subuser, in instead.
		byKey, asCarol bool
		// wholeInstance is set when every session of the instance ends.
		wholeInstance bool
	}{
		{name: "password change", revoke: func(s *sftpPanel, id, carol, keyID string) {
			s.expectAs(204, "alice", "POST", "/api/client/account/password",
				map[string]any{"current": userPassword, "new": "a brand new password"})
		}},
		{name: "ssh key removed", byKey: true, revoke: func(s *sftpPanel, id, carol, keyID string) {
			s.expectAs(204, "alice", "DELETE", "/api/client/account/ssh-keys/"+keyID, nil)
		}},
		{name: "subuser removed", asCarol: true, revoke: func(s *sftpPanel, id, carol, keyID string) {
			s.expectAs(204, "alice", "DELETE", "/api/client/instances/"+id+"/subusers/"+carol, nil)
		}},
		{name: "sftp permission taken", asCarol: true, revoke: func(s *sftpPanel, id, carol, keyID string) {
			s.expectAs(200, "alice", "PUT", "/api/client/instances/"+id+"/subusers/"+carol,
				map[string]any{"permissions": []string{"files.read", "files.write"}})
		}},
		{name: "suspension", wholeInstance: true, revoke: func(s *sftpPanel, id, carol, keyID string) {
			s.expect(200, "POST", "/api/instances/suspend/"+id, nil)
		}},
		{name: "deletion", wholeInstance: true, revoke: func(s *sftpPanel, id, carol, keyID string) {
			s.expect(modeCodes[s.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": id})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSFTPPanel(t)
			alice := s.user("alice", false)
			carol, dave := s.user("carol", false), s.user("dave", false)
			id := s.readyInstanceOf(alice, "25565")
			s.grant(id, carol, access.SFTP, access.FilesRead, access.FilesWrite)
			s.grant(id, dave, access.SFTP, access.FilesRead)
			s.sessionFor("alice", "alice")
			key, keyID := s.addKey("alice")
			var se *session
			switch {
			case tc.asCarol:
				se = s.open("carol", id)
			case tc.byKey:
				var err error
				if se, err = s.dial("alice."+id, ssh.PublicKeys(key)); err != nil {
					t.Fatal(err)
				}
			default:
				se = s.open("alice", id)
			}
			// dave's session is not concerned, unless the instance is.
			bystander := s.open("dave", id)
			if _, err := se.ReadDir("/"); err != nil {
				t.Fatal(err)
			}
			tc.revoke(s, id, carol, keyID)
			expectEnded(t, se, tc.name)
			if tc.wholeInstance {
				expectEnded(t, bystander, tc.name)
			} else if _, err := bystander.ReadDir("/"); err != nil {
				t.Errorf("another user's session ended too: %v", err)
			}
		})
	}
}

func TestSFTPLosingFilesWriteMakesTheSessionReadOnly(t *testing.T) {
	s := newSFTPPanel(t)
	alice := s.user("alice", false)
	carol := s.user("carol", false)
	id := s.readyInstanceOf(alice, "25565")
	s.grant(id, carol, access.SFTP, access.FilesRead, access.FilesWrite)
	se := s.open("carol", id)
	if err := se.Mkdir("/before"); err != nil {
		t.Fatal(err)
	}
	s.grant(id, carol, access.SFTP, access.FilesRead)
	waitUntil(t, "files.write to be taken from the session", func() bool {
		err := se.Mkdir("/after")
		if err == nil {
			_ = se.RemoveDirectory("/after")
		}
		return errors.Is(err, os.ErrPermission)
	})
	if _, err := se.ReadDir("/"); err != nil {
		t.Errorf("a read-only session cannot list: %v", err)
	}
}

func TestSFTPWritesLandInTheInstanceFolderAndCountAgainstItsLimit(t *testing.T) {
	s := newSFTPPanel(t)
	alice := s.user("alice", false)
	id := s.readyInstanceOf(alice, "25565")
	se := s.open("alice", id)
	f, err := se.Create("/plugins.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("worldedit")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dataDir(s.node, id), "plugins.txt")); string(b) != "worldedit" {
		t.Errorf("the data folder's file holds %q", b)
	}
	// The instance's limit is 1024 MiB: a file that would pass it fails
	// as the data is sent, and is not left behind.
	big, err := se.Create("/huge.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := big.WriteAt([]byte("x"), 2<<30)
	cerr := big.Close()
	if err := errors.Join(werr, cerr); err == nil || !strings.Contains(err.Error(), "disk limit") {
		t.Errorf("a write past the disk limit: %v, want the limit named", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir(s.node, id), "huge.bin")); err == nil {
		t.Error("the file past the limit was left")
	}
	entries, _ := os.ReadDir(dataDir(s.node, id))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".berth-tmp-") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}

func TestSFTPTwentyParallelSessions(t *testing.T) {
	s := newSFTPPanel(t)
	alice := s.user("alice", false)
	id := s.readyInstanceOf(alice, "25565")
	s.sessionFor("alice", "alice")
	key, _ := s.addKey("alice")
	sessions := make([]*session, 20)
	errs := make(chan error, len(sessions))
	for i := range sessions {
		go func() {
			se, err := s.dial("alice."+id, ssh.PublicKeys(key))
			if err == nil {
				sessions[i] = se
				_, err = se.ReadDir("/")
			}
			errs <- err
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := s.node.Daemon.SFTPSessions(); n != len(sessions) {
		t.Errorf("the daemon counts %d sessions, want %d", n, len(sessions))
	}
}

// TestSFTPWithOpenSSHClient uploads and downloads a file with Debian's
// sftp command in batch mode, signed in with a key.
func TestSFTPWithOpenSSHClient(t *testing.T) {
	bin, err := exec.LookPath("sftp")
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") != "" {
			t.Fatal("the sftp command (openssh-client) is not installed")
		}
		t.Skip("the sftp command (openssh-client) is not installed")
	}
	s := newSFTPPanel(t)
	alice := s.user("alice", false)
	id := s.readyInstanceOf(alice, "25565")
	s.sessionFor("alice", "alice")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	s.expectAs(201, "alice", "POST", "/api/client/account/ssh-keys",
		map[string]any{"publicKey": string(ssh.MarshalAuthorizedKey(signer.PublicKey()))})
	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	upload := filepath.Join(dir, "upload.txt")
	content := strings.Repeat("level-name=world\n", 10_000)
	if err := os.WriteFile(upload, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	download := filepath.Join(dir, "download.txt")
	batch := filepath.Join(dir, "batch")
	if err := os.WriteFile(batch, []byte("put "+upload+" /server.properties\nget /server.properties "+download+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(s.addr, ":")
	cmd := exec.CommandContext(t.Context(), bin, "-F", "/dev/null", "-b", batch, "-i", keyFile, "-P", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes", "alice."+id+"@127.0.0.1")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dataDir(s.node, id), "server.properties")); string(b) != content {
		t.Errorf("the uploaded file holds %d bytes, want %d", len(b), len(content))
	}
	got, err := os.ReadFile(download)
	if err != nil || string(got) != content {
		t.Errorf("the downloaded file: %d bytes, %v; want %d bytes", len(got), err, len(content))
	}
}

// nodeCall sends a request to a /nodes/sftp route with a panel token.
func nodeCall(p *testPanel, token, path string, body any) response {
	p.t.Helper()
	rd, ct := encodeBody(p.t, body)
	req := httptest.NewRequest("POST", path, rd)
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func TestSFTPNodeRoutesTakeTheCallingNodesTokenAndCheckTheirInput(t *testing.T) {
	c := newClientPanel(t)
	alice := c.user("alice", false)
	id := c.readyInstanceOf(alice, "25565")
	// c's node is configured, but the test needs its panel token: a
	// second node, configured here, has one, and id is not on it.
	other := configureNode(t, c.testPanel, 1)
	mine := configureNode(t, c.testPanel, 2)
	if err := c.st.SetNodePanelToken(t.Context(), c.nodeID, secret.Hash(mine.PanelToken)); err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"username": "alice", "instanceId": id, "password": userPassword, "remoteAddr": "192.0.2.7"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range good {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	withoutPassword := func(k string, v any) map[string]any {
		m := with(k, v)
		delete(m, "password")
		return m
	}
	for _, tc := range []struct {
		name, token string
		body        any
		code        int
		msg         string
	}{
		{"no token", "", good, 401, ""},
		{"a node token of another kind", "berth_node_xyz", good, 401, ""},
		{"an unknown panel token", panel.PanelTokenPrefix + "unknown", good, 401, ""},
		{"the instance is on another node", other.PanelToken, good, 403, "sftp: access denied"},
		{"no username", mine.PanelToken, with("username", nil), 400, "username: is required"},
		{"no remote address", mine.PanelToken, with("remoteAddr", nil), 400, "remoteAddr: is required"},
		{"a remote address that is none", mine.PanelToken, with("remoteAddr", "here"), 400, "remoteAddr: must be an IP address"},
		{"no secret", mine.PanelToken, with("password", nil), 400, "password: exactly one of password and publicKey is required"},
		{"both secrets", mine.PanelToken, with("publicKey", "ssh-ed25519 AAAA"), 400, "password: exactly one of password and publicKey is required"},
		{"a key that is none", mine.PanelToken, withoutPassword("publicKey", "not a key"), 400, "publicKey: "},
		{"right", mine.PanelToken, good, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := nodeCall(c.testPanel, tc.token, "/nodes/sftp/auth", tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.body)
			}
			if tc.code != 200 && !strings.HasPrefix(r.errorMessage(t), tc.msg) {
				t.Errorf("error %q, want %q", r.errorMessage(t), tc.msg)
			}
		})
	}
	for _, body := range []any{map[string]any{}, map[string]any{"sessions": "x"}, map[string]any{"sessions": []any{1}},
		map[string]any{"sessions": []any{map[string]any{"id": "a", "opened": true, "remoteAddr": "nowhere"}}}} {
		if r := nodeCall(c.testPanel, mine.PanelToken, "/nodes/sftp/check", body); r.code != 400 ||
			!strings.HasPrefix(r.errorMessage(t), "sessions: ") {
			t.Errorf("check with %v: %d %s, want a 400 naming sessions", body, r.code, r.body)
		}
	}
	r := nodeCall(c.testPanel, mine.PanelToken, "/nodes/sftp/check", map[string]any{"sessions": []any{
		map[string]any{"id": "a", "userId": alice, "instanceId": id, "credential": "password:forged"},
		map[string]any{"id": "b", "userId": "nobody", "instanceId": id, "credential": "key:x"},
	}})
	if r.code != 200 || strings.Contains(string(r.body), `"allowed":true`) {
		t.Errorf("check of forged sessions: %d %s, want both refused", r.code, r.body)
	}
}
