package panel

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/secret"
)

// Every authenticated request carries an access.Principal in its context,
// found from one of three credentials, tried in this order: an admin API
// key (x-api-key), a personal access token (Authorization: Bearer
// berth_pat_...), a session cookie (berth_session). The first one present
// decides: a bad one is refused, never passed over for the next.

// front is who may call a group of routes.
type front struct {
	// client marks /api/client: users' sessions and tokens, and no admin
	// key, which is not a user credential. Otherwise the route is the
	// admin API: the admin key, or an admin user's session or token.
	client bool
	// twoFactorSetup marks the routes an admin who must set up two-factor
	// (Config.Require2FAAdmins) may use before it is on.
	twoFactorSetup bool
}

// The fronts of the routes.
var (
	adminFront          = front{}
	clientFront         = front{client: true}
	twoFactorSetupFront = front{client: true, twoFactorSetup: true}
)

// The seed's answers to a missing or unknown API key, kept word for word.
const (
	msgKeyRequired = "API key is required"
	msgKeyInvalid  = "API key is invalid"
)

// errSignIn marks a credential that is missing, unknown or expired: a 401,
// where the Permission faults it wraps are otherwise a 403.
var errSignIn = errors.New("not signed in")

// unauthenticated refuses a request for its credential.
func unauthenticated(format string, args ...any) error {
	return &fault.Error{Kind: fault.Permission, Msg: fmt.Sprintf(format, args...), Err: errSignIn}
}

// credential is how a request presented itself.
type credential int

const (
	noCredential credential = iota
	byKey
	byToken
	byCookie
)

// caller is a request's principal and what the rules around it need.
type caller struct {
	access.Principal
	via credential
	// twoFactor is set when the user has two-factor on.
	twoFactor bool
}

// touchEvery is how stale a session's last-seen or a token's last-used
// time may grow before a request writes it again: not one write per
// request.
const touchEvery = time.Minute

// authenticated lets a request through to next when its credential is good
// and fits f, carrying its principal; otherwise it answers 401 or 403.
func (s *Server) authenticated(f front, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.identify(r)
		if err == nil {
			err = s.admit(f, c, r)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		logCaller(r, c)
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), c.Principal)))
	})
}

// admit applies the rules of f, and those of every front, to c.
func (s *Server) admit(f front, c caller, r *http.Request) error {
	switch {
	case c.via == noCredential && f.client:
		return unauthenticated("sign in, or send a personal access token (Authorization: Bearer berth_pat_...)")
	case c.via == noCredential:
		return unauthenticated(msgKeyRequired)
	case f.client && c.Kind == access.AdminKey:
		return unauthenticated("an API key is not a user credential: sign in, or send a personal access token")
	case !f.client && !c.IsAdmin():
		return fault.New(fault.Permission, "this route is for admins")
	case c.ReadOnly && !safeMethod(r.Method):
		return fault.New(fault.Permission, "this token is read-only")
	}
	if c.via == byCookie {
		// Only a cookie rides along on a request another site's page
		// makes; a header credential had to be set by the caller.
		if err := s.crossOrigin.Check(r); err != nil {
			return fault.New(fault.Permission, "cross-origin request refused")
		}
	}
	if s.cfg.Require2FAAdmins && c.Kind != access.AdminKey && c.Admin && !c.twoFactor && !f.twoFactorSetup {
		return fault.New(fault.Permission, "admins must use two-factor authentication (-require-2fa-admins): "+
			"set it up at POST /api/client/account/2fa/setup, then enable it")
	}
	return nil
}

// safeMethod reports whether method only reads.
func safeMethod(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// logCaller names the credential on the request's log line: ids only,
// never a secret.
func logCaller(r *http.Request, c caller) {
	switch c.Kind {
	case access.AdminKey:
		httplog.Add(r.Context(), slog.String(logKeyID, c.CredentialID))
	case access.Session:
		httplog.Add(r.Context(), slog.String("user_id", c.UserID))
		httplog.Add(r.Context(), slog.String("session_id", c.CredentialID))
	case access.Token:
		httplog.Add(r.Context(), slog.String("user_id", c.UserID))
		httplog.Add(r.Context(), slog.String("token_id", c.CredentialID))
	}
}

// identify finds r's credential and the principal behind it. None at all
// is no error: the front decides what that means.
func (s *Server) identify(r *http.Request) (caller, error) {
	if key := r.Header.Get("x-api-key"); key != "" {
		return s.resolve(r, secret.Hash(key), s.lookupKey)
	}
	if token, found, err := parseBearer(r.Header.Get("Authorization")); found {
		if err != nil {
			return caller{}, unauthenticated("%s", err)
		}
		return s.resolve(r, secret.Hash(token), s.lookupToken)
	}
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		return s.resolve(r, secret.Hash(ck.Value), s.lookupSession)
	}
	return caller{}, nil
}

// resolve is the caller of the credential whose SHA-256 is hash: from the
// cache while its entry is fresh and the credential live by the times it
// holds, otherwise from look, whose finding is cached. A credential that
// the database too finds expired is refused, and a session so found ends.
func (s *Server) resolve(r *http.Request, hash string, look func(*http.Request, string) (resolved, error)) (caller, error) {
	now := s.now()
	cred, ok, epoch := s.creds.get(hash, now)
	if ok && s.live(cred, now) {
		if now.Sub(cred.lastUsed) >= touchEvery && s.creds.claimTouch(hash, now) {
			s.touch(r, cred.caller, now)
		}
		return cred.caller, nil
	}
	// Not cached, or expired by the cached times: the database decides,
	// since another panel may have used the session since.
	cred, err := look(r, hash)
	if err != nil {
		return caller{}, err
	}
	if !s.live(cred, now) {
		return caller{}, s.expired(r, cred.caller)
	}
	if now.Sub(cred.lastUsed) >= touchEvery {
		s.touch(r, cred.caller, now)
		cred.lastUsed = now
	}
	s.creds.put(hash, cred, now, epoch)
	return cred.caller, nil
}

// live reports whether cred may be used at now: a session within its idle
// and absolute limits, a token before its expiry, if it has one.
func (s *Server) live(cred resolved, now time.Time) bool {
	switch cred.Kind {
	case access.Session:
		return s.sessionLive(cred.lastUsed, cred.expires, now)
	case access.Token:
		return cred.expires.IsZero() || now.Before(cred.expires)
	}
	return true
}

// touch records that c's session or token was used at now, which keeps a
// session's idle clock going; resolve calls it once per touchEvery at
// most. An admin key keeps no such time.
func (s *Server) touch(r *http.Request, c caller, now time.Time) {
	switch c.Kind {
	case access.Session:
		if err := s.store.TouchSession(r.Context(), c.CredentialID, now); err != nil {
			s.logError(r, "session last seen", err)
		}
	case access.Token:
		if err := s.store.TouchAccessToken(r.Context(), c.CredentialID, now); err != nil {
			s.logError(r, "token last used", err)
		}
	}
}

// expired refuses c, found expired; an expired session is deleted.
func (s *Server) expired(r *http.Request, c caller) error {
	if c.Kind == access.Token {
		return unauthenticated("the token has expired")
	}
	if err := s.store.DeleteSession(r.Context(), c.UserID, c.CredentialID); err != nil && !fault.Is(err, fault.NotExist) {
		s.logError(r, "delete expired session", err)
	}
	return unauthenticated("the session has expired: sign in again")
}

// lookupKey reads the admin API key whose SHA-256 is hash.
func (s *Server) lookupKey(r *http.Request, hash string) (resolved, error) {
	k, err := s.store.APIKeyByHash(r.Context(), hash)
	if fault.Is(err, fault.NotExist) {
		return resolved{}, unauthenticated(msgKeyInvalid)
	}
	if err != nil {
		return resolved{}, err
	}
	return resolved{caller: caller{Principal: access.Principal{Kind: access.AdminKey, CredentialID: k.ID, Admin: true}, via: byKey}}, nil
}

// lookupToken reads the personal access token whose SHA-256 is hash, with
// its user's admin flag and two-factor state.
func (s *Server) lookupToken(r *http.Request, hash string) (resolved, error) {
	t, err := s.store.AccessTokenByHash(r.Context(), hash)
	if fault.Is(err, fault.NotExist) {
		return resolved{}, unauthenticated("the token is invalid or was deleted")
	}
	if err != nil {
		return resolved{}, err
	}
	return resolved{
		caller: caller{
			Principal: access.Principal{Kind: access.Token, CredentialID: t.ID, UserID: t.UserID, Admin: t.Holder.Admin, ReadOnly: t.ReadOnly},
			via:       byToken, twoFactor: t.Holder.TwoFactor,
		},
		lastUsed: t.LastUsedAt, expires: t.ExpiresAt,
	}, nil
}

// lookupSession reads the session whose cookie's SHA-256 is hash, with its
// user's admin flag and two-factor state.
func (s *Server) lookupSession(r *http.Request, hash string) (resolved, error) {
	se, err := s.store.SessionByHash(r.Context(), hash)
	if fault.Is(err, fault.NotExist) {
		return resolved{}, unauthenticated("the session is invalid or has ended: sign in again")
	}
	if err != nil {
		return resolved{}, err
	}
	return resolved{
		caller: caller{
			Principal: access.Principal{Kind: access.Session, CredentialID: se.ID, UserID: se.UserID, Admin: se.Holder.Admin},
			via:       byCookie, twoFactor: se.Holder.TwoFactor,
		},
		lastUsed: se.LastSeenAt, expires: se.ExpiresAt,
	}, nil
}

// forgetCredential drops the cached credential id of kind, at once: called
// after the write that ended or changed it commits, never before, lest a
// lookup in between cache what the write was about to change.
func (s *Server) forgetCredential(kind access.Kind, id string) {
	s.creds.forget(func(c caller) bool { return c.Kind == kind && c.CredentialID == id })
}

// forgetUser drops every cached session and token of the user id: called
// after a write that changed the user (its password, admin flag,
// two-factor, sessions, or the user itself) commits.
func (s *Server) forgetUser(id string) {
	s.creds.forget(func(c caller) bool { return id != "" && c.UserID == id })
}

// tokenPrefix starts every personal access token.
const tokenPrefix = "berth_pat_"

// tokenLen is the length of a token: the prefix and 32 bytes in unpadded
// base64url.
var tokenLen = len(secret.NewToken(tokenPrefix))

// parseBearer reads a personal access token from an Authorization header.
// found is false for a header of another scheme, or none; a Bearer header
// that does not hold a well-formed token is found, with an error.
func parseBearer(header string) (token string, found bool, err error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil
	}
	token = strings.TrimSpace(rest)
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != tokenLen {
		return "", true, errors.New("the bearer token is not a personal access token (berth_pat_...)")
	}
	for _, c := range token[len(tokenPrefix):] {
		if !isBase64URL(c) {
			return "", true, errors.New("the bearer token is not a personal access token (berth_pat_...)")
		}
	}
	return token, true, nil
}

func isBase64URL(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// callerOf is the principal that authenticated put on r.
func callerOf(r *http.Request) access.Principal {
	p, _ := access.FromContext(r.Context())
	return p
}

// credentialTables are the tables whose changes can end or change a
// cached credential: the credentials themselves and the users behind
// them.
var credentialTables = map[string]bool{
	"": true, "users": true, "api_keys": true, "sessions": true, "access_tokens": true, "two_factor": true,
}

// Changed is told of each change another panel made to the database
// (store.Listen; "" when changes may have gone unheard). Cached answers
// follow the store's Version, which Listen moves; cached credentials are
// dropped here when their tables changed, so that a key revoked or a
// session ended on another panel stops working on this one at once,
// not when its entry ages out.
func (s *Server) Changed(table string) {
	if credentialTables[table] {
		s.creds.forget(func(caller) bool { return true })
	}
}
