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
		id, err := s.authenticate(r, key)
		if fault.Is(err, fault.NotExist) {
			return caller{}, unauthenticated(msgKeyInvalid)
		}
		if err != nil {
			return caller{}, err
		}
		return caller{Principal: access.Principal{Kind: access.AdminKey, CredentialID: id, Admin: true}, via: byKey}, nil
	}
	if token, found, err := parseBearer(r.Header.Get("Authorization")); found {
		if err != nil {
			return caller{}, unauthenticated("%s", err)
		}
		return s.tokenCaller(r, token)
	}
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		return s.sessionCaller(r, ck.Value)
	}
	return caller{}, nil
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

// tokenCaller is the principal of a personal access token.
func (s *Server) tokenCaller(r *http.Request, token string) (caller, error) {
	t, err := s.store.AccessTokenByHash(r.Context(), secret.Hash(token))
	if fault.Is(err, fault.NotExist) {
		return caller{}, unauthenticated("the token is invalid or was deleted")
	}
	if err != nil {
		return caller{}, err
	}
	now := s.now()
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return caller{}, unauthenticated("the token has expired")
	}
	if now.Sub(t.LastUsedAt) >= touchEvery {
		if err := s.store.TouchAccessToken(r.Context(), t.ID, now); err != nil {
			s.logError(r, "token last used", err)
		}
	}
	return caller{
		Principal: access.Principal{Kind: access.Token, CredentialID: t.ID, UserID: t.UserID, Admin: t.Holder.Admin, ReadOnly: t.ReadOnly},
		via:       byToken, twoFactor: t.Holder.TwoFactor,
	}, nil
}

// callerOf is the principal that authenticated put on r.
func callerOf(r *http.Request) access.Principal {
	p, _ := access.FromContext(r.Context())
	return p
}
