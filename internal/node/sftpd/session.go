package sftpd

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// session is one signed-in SSH connection, on one instance's folder.
type session struct {
	id         string
	userID     string
	instanceID string
	credential string
	// conn is the SSH connection; closing it ends the session.
	conn   io.Closer
	folder *files.Folder
	log    func(msg string, args ...any)
	// write is whether the user holds files.write now; the re-checks
	// update it.
	write atomic.Bool
	// verified is when the panel last allowed the session (unix nanos).
	verified atomic.Int64
	endOnce  sync.Once
}

// end closes the session's connection, which ends its SFTP channels; an
// upload in flight is dropped, never committed.
func (se *session) end(why string) {
	se.endOnce.Do(func() {
		se.log("SFTP session ended", "session", se.id, "instance", se.instanceID, "user", se.userID, "why", why)
		se.conn.Close()
	})
}

// serveConn runs one connection: handshake and sign-in, then its
// channels, until it closes.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	conn, chans, reqs, err := ssh.NewServerConn(c, s.ssh)
	s.untrack(c)
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	ext := conn.Permissions.Extensions
	se := &session{id: newSessionID(), userID: ext[extUserID], instanceID: ext[extInstanceID],
		credential: ext[extCredential], conn: conn, log: s.cfg.Log.Info}
	se.write.Store(ext[extWrite] != "")
	se.verified.Store(s.cfg.Now().UnixNano())
	se.folder, err = s.cfg.Folders(ctx, se.instanceID)
	if err != nil {
		s.cfg.Log.Warn("SFTP session refused: the instance's folder cannot be opened", "instance", se.instanceID, "err", err)
		conn.Close()
		return
	}
	defer se.folder.Close()
	if !s.add(se) {
		conn.Close()
		return
	}
	defer s.remove(se)
	if !s.confirm(ctx, se, remoteIP(conn.RemoteAddr()).String()) {
		se.end("refused by the panel as it opened")
		return
	}
	s.cfg.Log.Info("SFTP session opened", "session", se.id, "instance", se.instanceID, "user", se.userID,
		"remote", conn.RemoteAddr().String(), "write", se.write.Load())
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions are served")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Go(func() { s.serveChannel(se, ch, requests) })
	}
	wg.Wait()
}

// serveChannel serves the "sftp" subsystem on a session channel, and
// refuses everything else (shells, commands, forwarding). It returns once
// SFTP has ended and its open files are committed or dropped, so that the
// session's folder outlives them.
func (s *Server) serveChannel(se *session, ch ssh.Channel, requests <-chan *ssh.Request) {
	defer ch.Close()
	var served chan struct{}
	for req := range requests {
		ok := served == nil && req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp"
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if !ok {
			continue
		}
		served = make(chan struct{})
		// The channel's requests are still read, and refused, while SFTP
		// runs; its end closes the channel, which ends this loop.
		go func() {
			defer close(served)
			h := &handlers{se: se}
			rs := sftp.NewRequestServer(&framedChannel{Channel: ch},
				sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
			_ = rs.Serve()
			rs.Close()
		}()
	}
	if served != nil {
		<-served
	}
}

// framedChannel hands each SFTP packet to the SSH channel in one write.
// pkg/sftp writes a packet's header and its payload apart, which would
// make two SSH packets of every data packet, one of them 13 bytes: the
// header is held until the payload completes it. Writes come one packet
// at a time, under pkg/sftp's lock, so no packet waits on the next.
type framedChannel struct {
	ssh.Channel
	buf []byte
}

func (c *framedChannel) Write(p []byte) (int, error) {
	if len(c.buf) == 0 && packetComplete(p) {
		return c.Channel.Write(p)
	}
	c.buf = append(c.buf, p...)
	if !packetComplete(c.buf) {
		return len(p), nil
	}
	_, err := c.Channel.Write(c.buf)
	c.buf = c.buf[:0]
	return len(p), err
}

// packetComplete reports whether b holds at least one whole SFTP packet:
// its length, then as many bytes.
func packetComplete(b []byte) bool {
	return len(b) >= 4 && uint64(len(b)-4) >= uint64(binary.BigEndian.Uint32(b))
}

// MaxUserSessions caps one user's open sessions on one instance, so that
// one user cannot take all of the node's connections (nor make its
// re-checks long).
const MaxUserSessions = 20

// tooManySessions is what a client past MaxUserSessions is told.
var tooManySessions = fmt.Sprintf("Too many open SFTP sessions: at most %d per user on one instance. Close one and retry.\n", MaxUserSessions)

// add registers a session, unless the server is shutting down or its user
// already has MaxUserSessions open on its instance.
func (s *Server) add(se *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	if s.userSessionsLocked(se.userID, se.instanceID) >= MaxUserSessions {
		s.cfg.Log.Info("SFTP session refused: too many open sessions", "instance", se.instanceID, "user", se.userID)
		return false
	}
	s.sessions[se] = struct{}{}
	return true
}

// userSessions is the number of sessions userID has open on instanceID.
func (s *Server) userSessions(userID, instanceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userSessionsLocked(userID, instanceID)
}

func (s *Server) userSessionsLocked(userID, instanceID string) int {
	n := 0
	for se := range s.sessions {
		if se.userID == userID && se.instanceID == instanceID {
			n++
		}
	}
	return n
}

func (s *Server) remove(se *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, se)
}

func newSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// confirm tells the panel that se has opened, now that SSH has verified
// its client, and reports whether the panel still allows it: the panel
// records the sign-in, and a revocation made since the sign-in is not
// missed. A panel that cannot be asked leaves the session to the
// re-checks and their grace.
func (s *Server) confirm(ctx context.Context, se *session, addr string) bool {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	v, err := s.cfg.Panel.SFTPCheck(cctx, []nodeapi.SFTPSession{{ID: se.id, UserID: se.userID, InstanceID: se.instanceID,
		Credential: se.credential, Opened: true, RemoteAddr: addr}})
	if err == nil && len(v) != 1 {
		err = fmt.Errorf("the panel answered %d verdicts for one session", len(v))
	}
	if err != nil {
		s.cfg.Log.Warn("SFTP session opened without the panel's confirmation", "session", se.id, "err", err)
		return true
	}
	if !v[0].Allowed || !holds(v[0].Permissions, "sftp") {
		return false
	}
	se.write.Store(holds(v[0].Permissions, "files.write"))
	return true
}

// checkTimeout bounds one re-check with the panel.
const checkTimeout = 5 * time.Second

// checkSessions re-checks the open sessions with the panel every
// CheckInterval while there are any, until ctx is done. A session the
// panel refuses ends; one whose files.write was taken away turns
// read-only. While the panel cannot be asked, sessions stay open for
// Grace after their last good answer, then end: a revocation made
// meanwhile would otherwise never be learnt.
func (s *Server) checkSessions(ctx context.Context) {
	tick := time.NewTicker(s.cfg.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.checkOnce(ctx)
	}
}

// checkOnce is one re-check of every open session, in requests of at
// most nodeapi.MaxSFTPCheckSessions, which the panel refuses past.
func (s *Server) checkOnce(ctx context.Context) {
	list := s.list()
	for len(list) > 0 && ctx.Err() == nil {
		n := min(len(list), nodeapi.MaxSFTPCheckSessions)
		s.checkChunk(ctx, list[:n])
		list = list[n:]
	}
}

// checkChunk re-checks the sessions of list in one request.
func (s *Server) checkChunk(ctx context.Context, list []*session) {
	ask := make([]nodeapi.SFTPSession, len(list))
	for i, se := range list {
		ask[i] = nodeapi.SFTPSession{ID: se.id, UserID: se.userID, InstanceID: se.instanceID, Credential: se.credential}
	}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	verdicts, err := s.cfg.Panel.SFTPCheck(cctx, ask)
	cancel()
	if err == nil && len(verdicts) != len(list) {
		err = fmt.Errorf("the panel answered %d verdicts for %d sessions", len(verdicts), len(list))
	}
	now := s.cfg.Now()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.cfg.Log.Warn("SFTP sessions cannot be re-checked with the panel", "sessions", len(list), "err", err)
		for _, se := range list {
			if now.Sub(time.Unix(0, se.verified.Load())) > s.cfg.Grace {
				se.end("the panel could not confirm the session for too long")
			}
		}
		return
	}
	for i, v := range verdicts {
		se := list[i]
		if v.ID != se.id || !v.Allowed || !holds(v.Permissions, "sftp") {
			se.end("revoked by the panel")
			continue
		}
		se.write.Store(holds(v.Permissions, "files.write"))
		se.verified.Store(now.UnixNano())
	}
}
