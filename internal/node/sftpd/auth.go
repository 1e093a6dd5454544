package sftpd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/nodeapi"
)

// errRefused is the one refusal of every failed sign-in: an unknown user
// or instance, a wrong password or key, a missing permission, a locked
// address, an unreachable panel. SSH itself tells the client no more than
// "permission denied" either way.
var errRefused = errors.New("sftp: access denied")

// authTimeout bounds the panel's answer to one sign-in.
const authTimeout = 10 * time.Second

// Extension keys of ssh.Permissions, which carry a sign-in's grant from
// the callback to the connection.
const (
	extUserID     = "berth-user-id"
	extInstanceID = "berth-instance-id"
	extCredential = "berth-credential"
	extWrite      = "berth-files-write"
)

// SplitUser reads an SFTP user name, "<username>.<instanceId>". Instance
// ids hold no '.', usernames may: the name splits at its last '.'.
func SplitUser(user string) (username, instanceID string, ok bool) {
	i := strings.LastIndexByte(user, '.')
	if i <= 0 || i == len(user)-1 {
		return "", "", false
	}
	username, instanceID = user[:i], user[i+1:]
	if nodeapi.ValidateInstanceID(instanceID) != nil {
		return "", "", false
	}
	return username, instanceID, true
}

func (s *Server) password(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	return s.signIn(meta, nodeapi.SFTPAuthRequest{Password: string(password)}, true)
}

func (s *Server) publicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	// x/crypto/ssh asks this before the client has proven it holds the
	// private key, and checks the signature after a grant; a grant alone
	// opens nothing.
	// A refused key is not counted against the address: a client offers
	// each key it holds in turn, and a wrong key is no guess at a secret.
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	return s.signIn(meta, nodeapi.SFTPAuthRequest{PublicKey: line}, false)
}

// signIn asks the panel about one sign-in, unless the client's address is
// locked out by its failures. A refusal counts against the address when
// counted is set (passwords, which can be guessed) or the user name is
// malformed, whatever the method.
func (s *Server) signIn(meta ssh.ConnMetadata, req nodeapi.SFTPAuthRequest, counted bool) (*ssh.Permissions, error) {
	addr := remoteIP(meta.RemoteAddr())
	now := s.cfg.Now()
	if s.throttle.locked(addr, now) {
		return nil, errRefused
	}
	username, instanceID, ok := SplitUser(meta.User())
	if !ok {
		s.refuse(addr, meta.User(), "malformed user name", true)
		return nil, errRefused
	}
	req.Username, req.InstanceID, req.RemoteAddr = username, instanceID, addr.String()
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	g, err := s.cfg.Panel.SFTPAuth(ctx, req)
	if err != nil {
		var ne *nodeapi.Error
		// A 401 is the node's own token refused: no fault of the client.
		if errors.As(err, &ne) && ne.Status >= 400 && ne.Status < 500 && ne.Status != 401 {
			s.refuse(addr, meta.User(), "refused by the panel", counted)
		} else {
			// Not the client's failure: it is not counted against it.
			s.cfg.Log.Warn("SFTP sign-in: the panel cannot be asked", "user", meta.User(), "err", err)
		}
		return nil, errRefused
	}
	if !holds(g.Permissions, "sftp") {
		s.refuse(addr, meta.User(), "no sftp permission", counted)
		return nil, errRefused
	}
	if s.userSessions(g.UserID, instanceID) >= MaxUserSessions {
		// Refused before the session opens, where SSH can still tell
		// the client why; add holds the same cap against sign-ins that
		// race past this.
		s.cfg.Log.Info("SFTP sign-in refused", "user", meta.User(), "remote", addr.String(), "why", "too many open sessions")
		return nil, &ssh.BannerError{Err: errRefused, Message: tooManySessions}
	}
	write := ""
	if holds(g.Permissions, "files.write") {
		write = "1"
	}
	return &ssh.Permissions{Extensions: map[string]string{extUserID: g.UserID, extInstanceID: instanceID,
		extCredential: g.Credential, extWrite: write}}, nil
}

// refuse logs a failed sign-in and, if counted, counts it against its
// address.
func (s *Server) refuse(addr netip.Addr, user, why string, counted bool) {
	if counted && s.throttle.fail(addr, s.cfg.Now()) {
		s.cfg.Log.Warn("SFTP sign-ins from an address locked out after repeated failures", "remote", addr.String())
	}
	s.cfg.Log.Info("SFTP sign-in refused", "user", user, "remote", addr.String(), "why", why)
}

// holds reports whether perms lists p.
func holds(perms []string, p string) bool {
	for _, q := range perms {
		if q == p {
			return true
		}
	}
	return false
}

// remoteIP is the client's address, unmapped, as the throttle counts it;
// an IPv6 address counts as its /64, which one machine holds whole.
func remoteIP(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// throttle counts failed sign-ins per address: past max within window,
// the address is refused without asking the panel for lockout.
type throttle struct {
	max     int
	window  time.Duration
	lockout time.Duration

	mu    sync.Mutex
	addrs map[netip.Addr]*failures
}

// failures are one address's recent failures.
type failures struct {
	times       []time.Time
	lockedUntil time.Time
}

// maxTracked bounds the addresses the throttle remembers; past it the
// idle ones are forgotten.
const maxTracked = 10000

func newThrottle(max int, window, lockout time.Duration) *throttle {
	return &throttle{max: max, window: window, lockout: lockout, addrs: map[netip.Addr]*failures{}}
}

// locked reports whether addr is locked out at now.
func (t *throttle) locked(addr netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	return f != nil && now.Before(f.lockedUntil)
}

// fail counts a failure of addr at now and reports whether it locked the
// address out.
func (t *throttle) fail(addr netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.addrs) >= maxTracked {
		t.forget(now)
	}
	f := t.addrs[addr]
	if f == nil {
		f = &failures{}
		t.addrs[addr] = f
	}
	f.times = append(recent(f.times, now.Add(-t.window)), now)
	if len(f.times) >= t.max && !now.Before(f.lockedUntil) {
		f.lockedUntil = now.Add(t.lockout)
		f.times = nil
		return true
	}
	return false
}

// forget drops the addresses with no recent failure and no lock.
func (t *throttle) forget(now time.Time) {
	for a, f := range t.addrs {
		if len(recent(f.times, now.Add(-t.window))) == 0 && !now.Before(f.lockedUntil) {
			delete(t.addrs, a)
		}
	}
}

// recent is the times after since.
func recent(times []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(since) {
		i++
	}
	return times[i:]
}
