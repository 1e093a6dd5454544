package sftpd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/files/filestest"
	"github.com/berth-dev/berth/internal/nodeapi"
)

func TestSplitUserSplitsAtTheLastDot(t *testing.T) {
	for _, tc := range []struct {
		in, user, instance string
		ok                 bool
	}{
		{"alice." + testInstance, "alice", testInstance, true},
		{"a.b.c." + testInstance, "a.b.c", testInstance, true},
		{"alice", "", "", false},
		{"." + testInstance, "", "", false},
		{"alice.", "", "", false},
		{"alice.not/an-id", "", "", false},
		{"alice..", "", "", false},
	} {
		user, instance, ok := SplitUser(tc.in)
		if user != tc.user || instance != tc.instance || ok != tc.ok {
			t.Errorf("SplitUser(%q) = %q, %q, %v; want %q, %q, %v", tc.in, user, instance, ok, tc.user, tc.instance, tc.ok)
		}
	}
}

func TestHostKeyIsMadeOnceAndKeptPrivate(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, HostKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("host key file: %v, %v; want mode 0600", info, err)
	}
	again, err := LoadHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.PublicKey().Marshal(), again.PublicKey().Marshal()) {
		t.Error("a second start made another host key")
	}
	if first.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("host key is %s, want ed25519", first.PublicKey().Type())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data folder holds %d files, want the key alone", len(entries))
	}
}

func TestSignInNeedsTheRightUserInstanceAndSecret(t *testing.T) {
	ts := startServer(t, t.TempDir())
	key, other := newKey(t), newKey(t)
	ts.panel.key = key.PublicKey()
	for _, tc := range []struct {
		name, user string
		auth       ssh.AuthMethod
		ok         bool
	}{
		{"password", "alice." + testInstance, ssh.Password(testPassword), true},
		{"key", "alice." + testInstance, ssh.PublicKeys(key), true},
		{"wrong password", "alice." + testInstance, ssh.Password("wrong"), false},
		{"unknown key", "alice." + testInstance, ssh.PublicKeys(other), false},
		{"unknown user", "mallory." + testInstance, ssh.Password(testPassword), false},
		{"unknown instance", "alice.1b5c3e2a-6f1d-4c8e-9a7b-1d2e3f4a5b6c", ssh.Password(testPassword), false},
		{"no instance", "alice", ssh.Password(testPassword), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ts.dial(t, tc.user, tc.auth)
			if !tc.ok {
				// One refusal for every case: nothing tells a wrong
				// password from an unknown user or instance.
				if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
					t.Fatalf("sign-in: %v, want the refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("sign-in: %v", err)
			}
			if _, err := c.ReadDir("/"); err != nil {
				t.Errorf("list: %v", err)
			}
		})
	}
}

func TestSignInWithoutSFTPPermissionIsRefused(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.panel.set(true, nil, "files.read", "files.write")
	if _, err := ts.dial(t, "alice."+testInstance, ssh.Password(testPassword)); err == nil {
		t.Fatal("a grant without sftp opened a session")
	}
}

func TestFailedSignInsLockTheAddressOut(t *testing.T) {
	ts := startServer(t, t.TempDir())
	for i := range DefaultMaxFailures {
		if _, err := ts.dial(t, "alice."+testInstance, ssh.Password(fmt.Sprint("guess", i))); err == nil {
			t.Fatal("a wrong password signed in")
		}
	}
	asked := ts.panel.auths.Load()
	if _, err := ts.dial(t, "alice."+testInstance, ssh.Password(testPassword)); err == nil {
		t.Fatal("a locked-out address signed in with the right password")
	}
	if n := ts.panel.auths.Load(); n != asked {
		t.Errorf("the panel was asked %d more times while the address was locked out", n-asked)
	}
	ts.advance(DefaultLockout + time.Second)
	ts.open(t)
}

func TestReadOnlyWithoutFilesWrite(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "server.properties"), "motd=hi")
	ts := startServer(t, dir)
	ts.panel.set(true, nil, "files.read", "sftp")
	c := ts.open(t)
	if got := readAll(t, c, "/server.properties"); got != "motd=hi" {
		t.Errorf("read %q", got)
	}
	for name, change := range changes(c) {
		if err := change(); !isStatus(err, sftp.ErrSSHFxPermissionDenied) {
			t.Errorf("%s without files.write: %v, want permission denied", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "server.properties")); string(b) != "motd=hi" {
		t.Errorf("the file changed to %q", b)
	}
	assertOnly(t, dir, "server.properties")
}

// changes are one of each change a client can ask for.
func changes(c *sftp.Client) map[string]func() error {
	return map[string]func() error{
		"write": func() error {
			f, err := c.Create("/new.txt")
			if err != nil {
				return err
			}
			_, err = f.Write([]byte("x"))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		},
		"mkdir":  func() error { return c.Mkdir("/world") },
		"remove": func() error { return c.Remove("/server.properties") },
		"rename": func() error { return c.Rename("/server.properties", "/moved") },
		"chmod":  func() error { return c.Chmod("/server.properties", 0o600) },
	}
}

func TestLosingFilesWriteMidSessionTurnsItReadOnly(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := ts.open(t)
	writeFile(t, c, "/a.txt", "a")
	checks := ts.panel.checks.Load()
	ts.panel.set(true, nil, "files.read", "sftp")
	waitFor(t, "a re-check", 5*time.Second, func() bool { return ts.panel.checks.Load() > checks+1 })
	if err := c.Mkdir("/b"); !isStatus(err, sftp.ErrSSHFxPermissionDenied) {
		t.Errorf("mkdir after files.write was taken: %v", err)
	}
	if got := readAll(t, c, "/a.txt"); got != "a" {
		t.Errorf("read %q", got)
	}
}

func TestWritesAndTheTreeOperations(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := ts.open(t)
	if err := c.MkdirAll("/world/region"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c, "/world/region/r.0.0.mca", "chunk")
	if err := c.Rename("/world/region/r.0.0.mca", "/world/r.mca"); err != nil {
		t.Fatal(err)
	}
	if err := c.Chmod("/world/r.mca", 0o640); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := c.Chtimes("/world/r.mca", mtime, mtime); err != nil {
		t.Fatal(err)
	}
	info, err := c.Stat("/world/r.mca")
	if err != nil || info.Mode().Perm() != 0o640 || !info.ModTime().Equal(mtime) || info.Size() != 5 {
		t.Fatalf("stat = %v, %v", info, err)
	}
	if err := c.RemoveDirectory("/world"); err == nil {
		t.Error("rmdir of a folder with files in it succeeded")
	}
	if err := c.Remove("/world"); err == nil {
		t.Error("remove of a folder succeeded")
	}
	if err := c.Remove("/world/r.mca"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDirectory("/world/region"); err != nil {
		t.Fatal(err)
	}
	if err := c.Symlink("/etc", "/etc-link"); !isStatus(err, sftp.ErrSSHFxOpUnsupported) {
		t.Errorf("symlink: %v, want unsupported", err)
	}
	list, err := c.ReadDir("/")
	if err != nil || len(list) != 1 || list[0].Name() != "world" || !list[0].IsDir() {
		t.Fatalf("listing = %v, %v", list, err)
	}
	assertOnly(t, dir, "world")
}

func TestAppendKeepsTheContentAlreadyThere(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "log.txt"), "one\n")
	ts := startServer(t, dir)
	c := ts.open(t)
	f, err := c.OpenFile("/log.txt", os.O_WRONLY|os.O_APPEND)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "log.txt")); string(b) != "one\ntwo\n" {
		t.Errorf("after the append the file holds %q", b)
	}
}

func TestWritePastTheDiskLimitFailsAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "keep.txt"), "old content")
	ts := startServer(t, dir)
	measured, err := files.Measure(t.Context(), mustRoot(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	ts.usage.Set(measured)
	ts.usage.SetLimit(measured + 64<<10)
	c := ts.open(t)
	for _, name := range []string{"/big.bin", "/keep.txt"} {
		f, err := c.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write(bytes.Repeat([]byte("x"), 1<<20))
		cerr := f.Close()
		if werr == nil && cerr == nil {
			t.Fatalf("writing 1 MiB to %s past a 64 KiB margin succeeded", name)
		}
		if err := errors.Join(werr, cerr); !strings.Contains(err.Error(), "disk limit") {
			t.Errorf("write past the limit: %v, want the disk limit named", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "old content" {
		t.Errorf("the file the failed write replaced holds %q", b)
	}
	assertOnly(t, dir, "keep.txt")
	if used, _ := ts.usage.Used(); used != measured {
		t.Errorf("usage after the failed writes = %d, want %d as before", used, measured)
	}
	writeFile(t, c, "/small.txt", "fits")
}

func TestUploadCutOffMidwayLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := ts.open(t)
	f, err := c.Create("/world.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("x"), 256<<10)); err != nil {
		t.Fatal(err)
	}
	// The session ends without the file being closed, as a client that
	// crashes or loses its network.
	for _, se := range ts.list() {
		se.end("test")
	}
	waitFor(t, "the session to end", 5*time.Second, func() bool { return ts.Sessions() == 0 })
	assertOnly(t, dir)
}

func TestOpenedSessionIsConfirmedWithThePanel(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *Config) { c.CheckInterval = time.Hour })
	ts.open(t)
	ts.panel.mu.Lock()
	opened := strings.Join(ts.panel.opened, ",")
	ts.panel.mu.Unlock()
	if opened != "127.0.0.1" {
		t.Errorf("the panel heard of sessions opened from %q, want the one from 127.0.0.1", opened)
	}
	// A revocation between the sign-in and the session's start.
	ts.panel.set(false, nil, allPerms...)
	c, err := ts.dial(t, "alice."+testInstance, ssh.Password(testPassword))
	if err == nil {
		_, err = c.ReadDir("/")
	}
	if err == nil {
		t.Error("a session the panel refused as it opened lists files")
	}
	waitFor(t, "the refused session to go", 5*time.Second, func() bool { return ts.Sessions() == 1 })
}

func TestRevokedSessionEnds(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := ts.open(t)
	if ts.Sessions() != 1 {
		t.Fatalf("%d sessions open, want 1", ts.Sessions())
	}
	ts.panel.set(false, nil, allPerms...)
	waitFor(t, "the session to end", 5*time.Second, func() bool { return ts.Sessions() == 0 })
	if _, err := c.ReadDir("/"); err == nil {
		t.Error("a revoked session still lists files")
	}
}

func TestSessionsOutliveABriefPanelOutageButNotALongOne(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.open(t)
	ts.panel.set(true, errors.New("panel unreachable"), allPerms...)
	checks := ts.panel.checks.Load()
	waitFor(t, "failed re-checks", 5*time.Second, func() bool { return ts.panel.checks.Load() > checks+2 })
	if ts.Sessions() != 1 {
		t.Fatal("a session ended as soon as the panel could not be reached")
	}
	ts.advance(DefaultGrace + time.Second)
	waitFor(t, "the session to end", 5*time.Second, func() bool { return ts.Sessions() == 0 })
}

func TestRemovedInstanceEndsItsSessions(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *Config) { c.CheckInterval = time.Hour })
	ts.open(t)
	ts.CloseInstance("another-instance", "the instance was removed")
	if ts.Sessions() != 1 {
		t.Fatal("removing another instance ended the session")
	}
	ts.CloseInstance(testInstance, "the instance was removed")
	waitFor(t, "the session to end", 5*time.Second, func() bool { return ts.Sessions() == 0 })
}

// corpus is the traversal corpus of package files, its archive cases
// left out: SFTP extracts nothing.
func corpus(t *testing.T) []filestest.Case {
	var cases []filestest.Case
	for _, c := range filestest.Corpus(t) {
		if c.Category != "archive" {
			cases = append(cases, c)
		}
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases read from the corpus", len(cases))
	}
	return cases
}

// TestEveryPathStaysInTheInstanceFolder runs each SFTP operation on each
// path of the traversal corpus, in a folder full of links that lead out,
// and checks that nothing outside was read, created, changed or removed.
// The cases through the real /etc only read.
func TestEveryPathStaysInTheInstanceFolder(t *testing.T) {
	base := t.TempDir()
	outside, dir := filepath.Join(base, "outside"), filepath.Join(base, "folder")
	secrets := []string{"sentinel: must never change", "secret key", "root:x:0:0:root:/root:/bin/sh\n"}
	mustWrite(t, filepath.Join(outside, "sentinel.txt"), secrets[0])
	mustWrite(t, filepath.Join(outside, "secret", "key"), secrets[1])
	mustWrite(t, filepath.Join(outside, "etc", "passwd"), secrets[2])
	mustWrite(t, filepath.Join(dir, "inner", "file.txt"), "inner file")
	for name, target := range map[string]string{
		"link-inside": "inner", "link-etc": "/etc", "link-passwd": "/etc/passwd",
		"link-fake-etc": filepath.Join(outside, "etc"), "link-fake-passwd": filepath.Join(outside, "etc", "passwd"),
		"link-out": "../outside", "link-sentinel": "../outside/sentinel.txt", "link-chain": "link-out",
		"link-deep": "inner/../../outside", "inner/link-up": "../../outside", "link-rel-etc": "../../../../../../../../etc",
		"link-dot": ".",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServer(t, dir)
	c := ts.open(t)
	before := snapshot(t, outside)
	etc := snapshot(t, "/etc/hostname")
	for _, tc := range corpus(t) {
		readOnly := strings.HasSuffix(tc.Category, "-ro")
		if f, err := c.Open(tc.Path); err == nil {
			b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
			f.Close()
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("reading %q gave what is outside the folder", tc.Path)
				}
			}
			if strings.Contains(string(b), "root:x:0:0") {
				t.Errorf("reading %q gave the host's passwd", tc.Path)
			}
		}
		if list, err := c.ReadDir(tc.Path); err == nil {
			for _, e := range list {
				if e.Name() == "sentinel.txt" || e.Name() == "passwd" || e.Name() == "hostname" {
					t.Errorf("listing %q showed %q, from outside the folder", tc.Path, e.Name())
				}
			}
		}
		_, _ = c.Lstat(tc.Path)
		_, _ = c.Stat(tc.Path)
		if readOnly {
			continue
		}
		if f, err := c.Create(tc.Path); err == nil {
			_, _ = f.Write([]byte("escaped"))
			_ = f.Close()
		}
		if f, err := c.OpenFile(tc.Path, os.O_WRONLY|os.O_APPEND); err == nil {
			_, _ = f.Write([]byte("escaped"))
			_ = f.Close()
		}
		_ = c.Mkdir(tc.Path)
		_ = c.Chmod(tc.Path, 0o777)
		_ = c.Rename(tc.Path, "/moved")
		_ = c.Rename("/moved", tc.Path)
		_ = c.Rename("/inner/file.txt", tc.Path)
		_ = c.Rename(tc.Path, "/inner/file.txt")
		_ = c.Remove(tc.Path)
		_ = c.RemoveDirectory(tc.Path)
	}
	if after := snapshot(t, outside); !equalMaps(before, after) {
		t.Errorf("outside the folder changed:\nbefore %v\nafter  %v", before, after)
	}
	if after := snapshot(t, "/etc/hostname"); !equalMaps(etc, after) {
		t.Error("/etc/hostname changed")
	}
}

// snapshot describes every file under root: mode, size, time, content
// hash or link target.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		desc := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				sum := sha256.Sum256(b)
				desc += " " + hex.EncodeToString(sum[:])
			}
		}
		if target, err := os.Readlink(p); err == nil {
			desc += " -> " + target
		}
		out[p] = desc
		return nil
	})
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTwentyParallelSessions(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	clients := make([]*sftp.Client, 20)
	for i := range clients {
		clients[i] = ts.open(t)
	}
	for i, c := range clients {
		wg.Go(func() {
			name := fmt.Sprintf("/file-%02d.txt", i)
			content := strings.Repeat(fmt.Sprint(i), 100_000)
			f, err := c.Create(name)
			if err == nil {
				_, err = f.Write([]byte(content))
				err = errors.Join(err, f.Close())
			}
			if err == nil {
				var got []byte
				if r, oerr := c.Open(name); oerr == nil {
					got, err = io.ReadAll(r)
					r.Close()
				} else {
					err = oerr
				}
				if err == nil && string(got) != content {
					err = fmt.Errorf("%s read back %d bytes, want %d", name, len(got), len(content))
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := ts.Sessions(); n != 20 {
		t.Errorf("%d sessions counted, want 20", n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 20 {
		t.Errorf("%d files in the folder, want 20", len(entries))
	}
}

// isStatus reports whether err is an SFTP status with want's code; the
// client turns a few of them into fs errors.
func isStatus(err error, want error) bool {
	var se *sftp.StatusError
	switch {
	case errors.As(err, &se):
		return error(se.FxCode()) == want
	case want == sftp.ErrSSHFxPermissionDenied:
		return errors.Is(err, fs.ErrPermission)
	case want == sftp.ErrSSHFxNoSuchFile:
		return errors.Is(err, fs.ErrNotExist)
	}
	return false
}

func writeFile(t *testing.T, c *sftp.Client, name, content string) {
	t.Helper()
	f, err := c.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, c *sftp.Client, name string) string {
	t.Helper()
	f, err := c.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertOnly checks that dir holds exactly names: no temporary file left.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("the folder holds %v, want %v", got, names)
	}
}

func mustWrite(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// writesChannel records the writes made to an SSH channel.
type writesChannel struct {
	ssh.Channel
	writes [][]byte
}

func (c *writesChannel) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func TestEachSFTPPacketGoesToTheChannelInOneWrite(t *testing.T) {
	packet := func(body string) []byte { return append([]byte{0, 0, 0, byte(len(body))}, body...) }
	data := packet("header+payload")
	for _, tc := range []struct {
		name   string
		writes [][]byte
		want   []string
	}{
		{"whole packets pass through", [][]byte{packet("a"), packet("bc")}, []string{string(packet("a")), string(packet("bc"))}},
		{"a header waits for its payload", [][]byte{data[:10], data[10:]}, []string{string(data)}},
		{"three parts", [][]byte{data[:2], data[2:10], data[10:]}, []string{string(data)}},
		{"an empty packet", [][]byte{{0, 0, 0, 0}}, []string{"\x00\x00\x00\x00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := &writesChannel{}
			fc := &framedChannel{Channel: ch}
			for _, w := range tc.writes {
				if n, err := fc.Write(w); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			var got []string
			for _, w := range ch.writes {
				got = append(got, string(w))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("the channel got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRefusedKeysDoNotLockTheAddressOut(t *testing.T) {
	ts := startServer(t, t.TempDir())
	key := newKey(t)
	ts.panel.key = key.PublicKey()
	// An agent holding five other keys offers each of them before the
	// right one, on every connection: none of it is a guess.
	var signers []ssh.Signer
	for range 5 {
		signers = append(signers, newKey(t))
	}
	signers = append(signers, key)
	for i := range 2*DefaultMaxFailures/5 + 1 {
		c, err := ts.dial(t, "alice."+testInstance, ssh.PublicKeys(signers...))
		if err != nil {
			t.Fatalf("connection %d with the agent's keys: %v", i+1, err)
		}
		if _, err := c.ReadDir("/"); err != nil {
			t.Fatalf("connection %d: list: %v", i+1, err)
		}
	}
	ts.open(t)
	// A malformed user name is still counted, whatever the method.
	for range DefaultMaxFailures {
		if _, err := ts.dial(t, "alice", ssh.PublicKeys(key)); err == nil {
			t.Fatal("a malformed user name signed in")
		}
	}
	if _, err := ts.dial(t, "alice."+testInstance, ssh.Password(testPassword)); err == nil {
		t.Fatal("an address past its failures with malformed user names was not locked out")
	}
}

// fakeConn stands for a session's SSH connection.
type fakeConn struct{ closed atomic.Bool }

func (c *fakeConn) Close() error { c.closed.Store(true); return nil }

func TestReChecksPastThePanelsCapGoInChunks(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *Config) { c.CheckInterval = time.Hour })
	// Sessions of many users, more than two requests' worth.
	n := 2*nodeapi.MaxSFTPCheckSessions + 1
	conns := make([]*fakeConn, n)
	sessions := make([]*session, n)
	for i := range sessions {
		conns[i] = &fakeConn{}
		sessions[i] = &session{id: fmt.Sprint("s", i), userID: "u1", instanceID: testInstance,
			credential: "password:x", conn: conns[i], log: ts.cfg.Log.Info}
		sessions[i].verified.Store(ts.cfg.Now().UnixNano())
	}
	ts.mu.Lock()
	for _, se := range sessions {
		ts.sessions[se] = struct{}{}
	}
	ts.mu.Unlock()
	// Past the grace, a re-check the panel refused would end them all.
	ts.advance(DefaultGrace + time.Second)
	ts.checkOnce(context.Background())
	if got := ts.panel.largestCheck.Load(); got > nodeapi.MaxSFTPCheckSessions {
		t.Errorf("a re-check asked about %d sessions, past the panel's cap of %d", got, nodeapi.MaxSFTPCheckSessions)
	}
	ended := 0
	for i, se := range sessions {
		if conns[i].closed.Load() {
			ended++
		} else if !time.Unix(0, se.verified.Load()).Equal(ts.cfg.Now()) {
			t.Fatalf("session %s was not re-checked", se.id)
		}
	}
	if ended != 0 {
		t.Errorf("%d of %d sessions the panel allows were ended", ended, n)
	}
	// A revocation still reaches every chunk.
	ts.panel.set(false, nil, allPerms...)
	ts.checkOnce(context.Background())
	for i, c := range conns {
		if !c.closed.Load() {
			t.Fatalf("session %d of %d outlived its revocation", i, n)
		}
	}
}

// dialSSH signs in as alice with the password and answers the connection
// and the banner the server sent.
func (ts *testServer) dialSSH(t *testing.T) (*ssh.Client, string, error) {
	t.Helper()
	var banner strings.Builder
	conn, err := ssh.Dial("tcp", ts.addr, &ssh.ClientConfig{User: "alice." + testInstance,
		Auth: []ssh.AuthMethod{ssh.Password(testPassword)}, HostKeyCallback: ssh.FixedHostKey(ts.hostKey.PublicKey()),
		BannerCallback: func(m string) error { banner.WriteString(m); return nil }, Timeout: 10 * time.Second})
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, banner.String(), err
}

func TestSessionsPerUserAndInstanceAreCapped(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *Config) { c.CheckInterval = time.Hour })
	conns := make([]*ssh.Client, MaxUserSessions)
	for i := range conns {
		c, _, err := ts.dialSSH(t)
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		conns[i] = c
	}
	waitFor(t, "the sessions to open", 5*time.Second, func() bool { return ts.Sessions() == MaxUserSessions })
	_, banner, err := ts.dialSSH(t)
	if err == nil {
		t.Fatalf("session %d of one user on one instance was opened", MaxUserSessions+1)
	}
	if !strings.Contains(banner, "Too many open SFTP sessions") {
		t.Errorf("the refused client was told %q, want why", banner)
	}
	// The cap holds for sign-ins that race past the check at sign-in.
	extra := &session{id: "racer", userID: "u1", instanceID: testInstance, conn: &fakeConn{}, log: ts.cfg.Log.Info}
	if ts.add(extra) {
		t.Error("a session past the cap was registered")
	}
	// The refusal is no failure of the address, and closing a session
	// makes room.
	conns[0].Close()
	waitFor(t, "the closed session to go", 5*time.Second, func() bool { return ts.Sessions() == MaxUserSessions-1 })
	if _, _, err := ts.dialSSH(t); err != nil {
		t.Fatalf("a session under the cap: %v", err)
	}
}
