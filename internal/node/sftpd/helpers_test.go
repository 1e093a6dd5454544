package sftpd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// testInstance is the instance id the tests sign in to.
const testInstance = "0b5c3e2a-6f1d-4c8e-9a7b-1d2e3f4a5b6c"

// testPassword is the one password the fake panel accepts.
const testPassword = "correct horse battery"

// fakePanel answers as the panel would for one user, "alice", of
// testInstance: the password testPassword or the key key, with perms.
// Refusals are 403s, as the panel's.
type fakePanel struct {
	key ssh.PublicKey

	mu    sync.Mutex
	perms []string
	// allowed is the verdict of re-checks; checkErr fails them instead.
	allowed  bool
	checkErr error

	auths  atomic.Int64
	checks atomic.Int64
	// largestCheck is the most sessions one re-check asked about.
	largestCheck atomic.Int64
	// opened lists the sessions reported opened, by their address.
	opened []string
}

func (p *fakePanel) set(allowed bool, checkErr error, perms ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allowed, p.checkErr, p.perms = allowed, checkErr, perms
}

func (p *fakePanel) SFTPAuth(_ context.Context, req nodeapi.SFTPAuthRequest) (nodeapi.SFTPGrant, error) {
	p.auths.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	refused := &nodeapi.Error{Status: 403, Message: "sftp: access denied"}
	if req.Username != "alice" || req.InstanceID != testInstance || req.RemoteAddr != "127.0.0.1" {
		return nodeapi.SFTPGrant{}, refused
	}
	switch {
	case req.Password == testPassword:
	case req.PublicKey != "" && p.key != nil && req.PublicKey+"\n" == string(ssh.MarshalAuthorizedKey(p.key)):
	default:
		return nodeapi.SFTPGrant{}, refused
	}
	return nodeapi.SFTPGrant{UserID: "u1", Permissions: p.perms, Credential: "password:x"}, nil
}

func (p *fakePanel) SFTPCheck(_ context.Context, sessions []nodeapi.SFTPSession) ([]nodeapi.SFTPVerdict, error) {
	p.checks.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := int64(len(sessions)); n > p.largestCheck.Load() {
		p.largestCheck.Store(n)
	}
	if len(sessions) > nodeapi.MaxSFTPCheckSessions {
		// The panel's answer to a request past its cap.
		return nil, &nodeapi.Error{Status: 400, Message: "sessions: must list at most 1000 sessions"}
	}
	if p.checkErr != nil {
		return nil, p.checkErr
	}
	out := make([]nodeapi.SFTPVerdict, len(sessions))
	for i, se := range sessions {
		if se.Opened {
			p.opened = append(p.opened, se.RemoteAddr)
		}
		out[i] = nodeapi.SFTPVerdict{ID: se.ID, Allowed: p.allowed && se.UserID == "u1", Permissions: p.perms}
	}
	return out, nil
}

// allPerms is what an owner holds, as far as SFTP cares.
var allPerms = []string{"files.read", "files.write", "sftp"}

// testServer is a Server on loopback over one folder, dir, with a fake
// panel.
type testServer struct {
	*Server
	addr  string
	panel *fakePanel
	usage *files.Usage
	// clock is the server's time, moved by the test.
	clock atomic.Int64
}

// startServer serves SFTP for testInstance's folder dir until the test
// ends; configure may change the server's Config first.
func startServer(t testing.TB, dir string, configure ...func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{panel: &fakePanel{allowed: true, perms: allPerms}, usage: &files.Usage{}}
	ts.usage.Set(0)
	ts.clock.Store(time.Now().UnixNano())
	cfg := Config{
		Dir:   t.TempDir(),
		Panel: ts.panel,
		Folders: func(_ context.Context, id string) (*files.Folder, error) {
			if id != testInstance {
				return nil, errors.New("no such instance")
			}
			return files.Open(dir, ts.usage)
		},
		Now:           func() time.Time { return time.Unix(0, ts.clock.Load()) },
		CheckInterval: 20 * time.Millisecond,
	}
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

// advance moves the server's clock.
func (ts *testServer) advance(d time.Duration) { ts.clock.Add(int64(d)) }

// dial signs in as user with auth and opens SFTP; the connection closes
// when the test ends.
func (ts *testServer) dial(t testing.TB, user string, auth ssh.AuthMethod) (*sftp.Client, error) {
	t.Helper()
	conn, err := ssh.Dial("tcp", ts.addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.FixedHostKey(ts.hostKey.PublicKey()), Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, nil
}

// open signs in as alice with the password, and fails the test if it
// cannot.
func (ts *testServer) open(t testing.TB) *sftp.Client {
	t.Helper()
	c, err := ts.dial(t, "alice."+testInstance, ssh.Password(testPassword))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return c
}

// newKey makes an ed25519 key pair.
func newKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls cond until it holds, failing the test after bound.
func waitFor(t testing.TB, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
