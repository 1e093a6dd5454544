package panel

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// The node side of SFTP (DESIGN §10): a node's daemon asks the panel
// whether a sign-in may open a session on one of its instances, and every
// few seconds whether its open sessions may stay open. Both routes sit
// outside /api and take the node's panel token, which configure minted;
// the instance must be on the node that asks. The permissions come from
// the one authorizer (access), as the client API's do.
//
// Two-factor does not apply: an SFTP client has no way to send a code (as
// in Pterodactyl). A password sign-in goes through the same argon2id check
// and the same per-account and per-address throttle as /auth/login; SSH
// keys are the strong path.

// PanelTokenPrefix starts every node's panel token.
const PanelTokenPrefix = "berth_pnl_"

// msgSFTPRefused is the one answer to every refused SFTP sign-in: an
// unknown user or instance, a wrong password or key, a missing
// permission, a suspended instance, a throttled account. The node gives
// its client one refusal too; this keeps the panel from telling the node
// more than it needs.
const msgSFTPRefused = "sftp: access denied"

// callingNodeKey carries the node that called, once its token checked out.
type callingNodeKey struct{}

// nodeAuthenticated lets a request through only with a node's panel
// token: Authorization: Bearer berth_pnl_.... The token is found by its
// SHA-256, and the hash found is compared again in constant time.
func (s *Server) nodeAuthenticated(next handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(token, PanelTokenPrefix) {
			return unauthenticated("a node's panel token is required")
		}
		hash := secret.Hash(token)
		n, err := s.store.NodeByPanelToken(r.Context(), hash)
		if fault.Is(err, fault.NotExist) {
			return unauthenticated("the node's panel token is invalid")
		}
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(hash), []byte(n.PanelTokenHash)) != 1 {
			return unauthenticated("the node's panel token is invalid")
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), callingNodeKey{}, n.ID)))
	}
}

// callingNode is the id of the node nodeAuthenticated let in.
func callingNode(r *http.Request) string {
	id, _ := r.Context().Value(callingNodeKey{}).(string)
	return id
}

// sftpRefused is the answer to every refused SFTP sign-in.
func sftpRefused() error { return fault.New(fault.Permission, msgSFTPRefused) }

// sftpAuth is POST /nodes/sftp/auth: {"username", "instanceId", "password"
// | "publicKey", "remoteAddr"} -> 200 nodeapi.SFTPGrant, or 403
// msgSFTPRefused whatever the reason.
func (s *Server) sftpAuth(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	name, err := b.str("username", true, 320)
	if err != nil {
		return err
	}
	instanceID, err := b.str("instanceId", true, 64)
	if err != nil {
		return err
	}
	addr, err := b.str("remoteAddr", true, 64)
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(addr); err != nil {
		return fault.InvalidField("remoteAddr", "must be an IP address")
	}
	keyLine, err := b.str("publicKey", false, maxPublicKey)
	if err != nil {
		return err
	}
	var password string
	if b.present("password") {
		if password, err = b.password("password"); err != nil {
			return err
		}
	}
	if (password == "") == (keyLine == "") {
		return fault.InvalidField("password", "exactly one of password and publicKey is required")
	}
	u, found, err := s.signInUser(r, name)
	if err != nil {
		return err
	}
	var credential string
	if keyLine != "" {
		credential, err = s.checkSFTPKey(r, u, found, keyLine)
	} else {
		credential, err = s.checkSFTPPassword(r, u, found, addr, name, password)
	}
	if err != nil {
		return err
	}
	held, err := s.sftpPermissions(r, u, instanceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nodeapi.SFTPGrant{UserID: u.ID, Permissions: permissionNames(held), Credential: credential})
	return nil
}

// recordSFTPLogin records a session's start in the instance's activity:
// the user, from the SFTP client's address (not the node's), with the key
// it signed in with, or "password".
func (s *Server) recordSFTPLogin(r *http.Request, se nodeapi.SFTPSession) {
	label := "password"
	if strings.HasPrefix(se.Credential, "key:") {
		label = se.Credential
	}
	e := store.AuditEntry{Action: "instance.sftp.login", InstanceID: se.InstanceID, Target: se.InstanceID,
		ActorKind: access.SFTPSession.String(), CredentialID: label, UserID: se.UserID, IP: se.RemoteAddr, At: s.now(),
		Detail: "through node " + callingNode(r)}
	if err := s.store.RecordAudit(r.Context(), e); err != nil {
		s.logError(r, "audit", err)
	}
}

// checkSFTPPassword checks a password sign-in as /auth/login does: under
// the throttle, with the same argon2id run for an unknown user. A locked
// account or address is refused like a wrong password, before the check.
// The credential answered names the password hash, so that any change of
// the password ends the session.
func (s *Server) checkSFTPPassword(r *http.Request, u store.User, found bool, addr, name, password string) (string, error) {
	sc := scopesAt(addr, u.ID, name)
	a, wait, err := s.startAttempt(r, sc)
	if err != nil {
		return "", err
	}
	if wait > 0 {
		return "", sftpRefused()
	}
	defer a.end()
	hash := dummyPasswordHash
	if found {
		hash = u.PasswordHash
	}
	if !s.checkPassword(r, hash, password) || !found {
		a.fail()
		return "", sftpRefused()
	}
	if err := s.store.ClearLoginFailures(r.Context(), sc.account); err != nil {
		s.logError(r, "clear sign-in failures", err)
	}
	return passwordCredential(u), nil
}

// passwordCredential names a user's current password without revealing
// anything of it: a hash of its argon2id hash, which a new password (even
// the same one, with its new salt) changes.
func passwordCredential(u store.User) string { return "password:" + secret.Hash(u.PasswordHash) }

// checkSFTPKey checks that keyLine is one of the user's SSH keys; the
// node has checked that the client holds its private half. Key sign-ins
// are not throttled: a client offers each key it has in turn, and a wrong
// key is no guess at a secret. The credential names the key, so that its
// removal ends the session.
func (s *Server) checkSFTPKey(r *http.Request, u store.User, found bool, keyLine string) (string, error) {
	pub, _, err := parsePublicKey(keyLine)
	if err != nil {
		return "", err
	}
	if !found {
		return "", sftpRefused()
	}
	keys, err := s.store.ListSSHKeys(r.Context(), u.ID)
	if err != nil {
		return "", err
	}
	want := pub.Marshal()
	for _, k := range keys {
		have, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.PublicKey))
		if err == nil && bytes.Equal(have.Marshal(), want) {
			return "key:" + k.ID, nil
		}
	}
	return "", sftpRefused()
}

// sftpPermissions answers what u holds on instance id, on the calling
// node: sftp is needed, and a suspended instance is refused. Anything
// else is the refusal.
func (s *Server) sftpPermissions(r *http.Request, u store.User, id string) ([]access.Permission, error) {
	sh, err := s.store.InstanceForUser(r.Context(), id, u.ID)
	if fault.Is(err, fault.NotExist) {
		return nil, sftpRefused()
	}
	if err != nil {
		return nil, err
	}
	if sh.NodeID != callingNode(r) || sh.Suspended {
		return nil, sftpRefused()
	}
	p := access.Principal{Kind: access.SFTPSession, UserID: u.ID, Admin: u.Admin}
	if access.Authorize(p, accessInstance(sh), access.Action{Need: access.SFTP}) != nil {
		return nil, sftpRefused()
	}
	return access.Held(p, accessInstance(sh)), nil
}

// permissionNames is perms as the wire carries them.
func permissionNames(perms []access.Permission) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = string(p)
	}
	return out
}

// sftpCheck is POST /nodes/sftp/check: {"sessions": [{id, userId,
// instanceId, credential, opened?, remoteAddr?}]} -> one verdict per
// session, in order. A session stays allowed while its user exists, still
// has the password or key it signed in with, and still holds sftp on the
// instance, which is on the calling node and not suspended. An opened
// session that is allowed is recorded in the instance's activity.
func (s *Server) sftpCheck(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	var req nodeapi.SFTPCheckRequest
	if !b.present("sessions") || json.Unmarshal(b["sessions"], &req.Sessions) != nil {
		return fault.InvalidField("sessions", "must be an array of sessions")
	}
	if len(req.Sessions) > nodeapi.MaxSFTPCheckSessions {
		return fault.InvalidField("sessions", "must list at most %d sessions", nodeapi.MaxSFTPCheckSessions)
	}
	for _, se := range req.Sessions {
		if _, err := netip.ParseAddr(se.RemoteAddr); se.Opened && err != nil {
			return fault.InvalidField("sessions", "remoteAddr of an opened session must be an IP address")
		}
	}
	out := nodeapi.SFTPCheckResponse{Sessions: make([]nodeapi.SFTPVerdict, len(req.Sessions))}
	// A node's sessions are mostly few users': each is read once.
	users := map[string]*store.User{}
	for i, se := range req.Sessions {
		v := nodeapi.SFTPVerdict{ID: se.ID}
		held, err := s.recheckSFTP(r, se, users)
		if err != nil {
			return err
		}
		if held != nil {
			v.Allowed, v.Permissions = true, permissionNames(held)
			if se.Opened {
				s.recordSFTPLogin(r, se)
			}
		}
		out.Sessions[i] = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// recheckSFTP answers the permissions session se still holds, or nil when
// it is to end. users caches the users read, nil for one that is gone.
func (s *Server) recheckSFTP(r *http.Request, se nodeapi.SFTPSession, users map[string]*store.User) ([]access.Permission, error) {
	u, seen := users[se.UserID]
	if !seen {
		got, err := s.store.UserByID(r.Context(), se.UserID)
		switch {
		case err == nil:
			u = &got
		case !fault.Is(err, fault.NotExist):
			return nil, err
		}
		users[se.UserID] = u
	}
	if u == nil {
		return nil, nil
	}
	switch kind, id, _ := strings.Cut(se.Credential, ":"); kind {
	case "password":
		if subtle.ConstantTimeCompare([]byte(se.Credential), []byte(passwordCredential(*u))) != 1 {
			return nil, nil
		}
	case "key":
		keys, err := s.store.ListSSHKeys(r.Context(), u.ID)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(keys, func(k store.SSHKey) bool { return k.ID == id }) {
			return nil, nil
		}
	default:
		return nil, nil
	}
	held, err := s.sftpPermissions(r, *u, se.InstanceID)
	if fault.Is(err, fault.Permission) {
		return nil, nil
	}
	return held, err
}
