package panel

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/totp"
)

// sessionCookie holds a signed-in browser's session.
const sessionCookie = "berth_session"

// msgBadSignIn is the one answer to an unknown name and a wrong password.
const msgBadSignIn = "invalid username or password"

// dummyPasswordHash is checked against when the name is unknown, so that
// an unknown user costs the same argon2id run as a wrong password. Its
// parameters are those secret.HashPassword uses (a test holds them
// together); no password is expected to match it, and none would sign in.
const dummyPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$+PjhSYmlWRB14+noBfsUUg$tywUaMyCo/lBXmNJdBw4tRyDjhVgAaYkYrupR1jbV+c"

// maxUserAgent caps the user agent kept with a session.
const maxUserAgent = 256

// login is POST /auth/login: {"username" (or email), "password", "code"?}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	name, err := b.str("username", true, 320)
	if err != nil {
		return err
	}
	password, err := b.password("password")
	if err != nil {
		return err
	}
	code, err := b.str("code", false, 64)
	if err != nil {
		return err
	}
	u, found, err := s.signInUser(r, name)
	if err != nil {
		return err
	}
	sc := scopesOf(r, u.ID, name)
	a, err := s.beginAttempt(w, r, sc)
	if err != nil {
		return err
	}
	defer a.end()
	hash := dummyPasswordHash
	if found {
		hash = u.PasswordHash
	}
	if !s.checkPassword(r, hash, password) || !found {
		a.fail()
		return unauthenticated(msgBadSignIn)
	}
	twoFactor, err := s.twoFactorOn(r, u.ID)
	if err != nil {
		return err
	}
	if twoFactor {
		if code == "" {
			writeTwoFactorRequired(w, "two-factor code required")
			return nil
		}
		ok, err := s.checkSecondFactor(r, u.ID, code)
		if err != nil {
			return err
		}
		if !ok {
			a.fail()
			writeTwoFactorRequired(w, "the two-factor code is wrong or was used already")
			return nil
		}
	}
	if err := s.store.ClearLoginFailures(r.Context(), sc.account); err != nil {
		s.logError(r, "clear sign-in failures", err)
	}
	sessionID, err := s.startSession(w, r, u.ID)
	if err != nil {
		return err
	}
	// The sign-in is the new session's first act.
	s.audit(asCaller(r, access.Principal{Kind: access.Session, CredentialID: sessionID, UserID: u.ID, Admin: u.Admin}),
		"account.login", u.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, signedInView{User: viewAccount(u, twoFactor),
		TwoFactorSetupRequired: s.cfg.Require2FAAdmins && u.Admin && !twoFactor})
	return nil
}

// signedInView answers a sign-in.
type signedInView struct {
	User accountView `json:"user"`
	// TwoFactorSetupRequired tells an admin without two-factor, under
	// -require-2fa-admins, that setting it up is all it may do.
	TwoFactorSetupRequired bool `json:"twoFactorSetupRequired,omitempty"`
}

// signInRefusal is the 401 of a sign-in: the error, and whether the
// password was right but a second factor is missing or wrong.
type signInRefusal struct {
	Error             string `json:"error"`
	TwoFactorRequired bool   `json:"twoFactorRequired,omitempty"`
}

// signInUser finds the user a sign-in names, by username or else by
// email; found is false when neither matches.
func (s *Server) signInUser(r *http.Request, name string) (u store.User, found bool, err error) {
	u, err = s.store.UserByUsername(r.Context(), name)
	if fault.Is(err, fault.NotExist) && strings.Contains(name, "@") {
		u, err = s.store.UserByEmail(r.Context(), name)
	}
	if fault.Is(err, fault.NotExist) {
		return store.User{}, false, nil
	}
	return u, err == nil, err
}

// checkPassword reports whether password matches hash. A stored hash that
// does not parse matches nothing, and is logged.
func (s *Server) checkPassword(r *http.Request, hash, password string) bool {
	s.passwordChecks.Add(1)
	ok, err := secret.CheckPassword(hash, password)
	if err != nil {
		s.logError(r, "check password", err)
	}
	return ok && err == nil
}

// twoFactorOn reports whether the user has two-factor enabled.
func (s *Server) twoFactorOn(r *http.Request, userID string) (bool, error) {
	tf, err := s.store.TwoFactorOf(r.Context(), userID)
	if fault.Is(err, fault.NotExist) {
		return false, nil
	}
	return err == nil && tf.Enabled, err
}

// checkSecondFactor checks code, a TOTP code or a recovery code, for a
// user with two-factor on, and spends it: neither works twice.
func (s *Server) checkSecondFactor(r *http.Request, userID, code string) (bool, error) {
	tf, err := s.store.TwoFactorOf(r.Context(), userID)
	if err != nil {
		return false, err
	}
	if digits := strings.ReplaceAll(code, " ", ""); len(digits) == totp.Digits && strings.Trim(digits, "0123456789") == "" {
		step, ok, err := totp.Verify(tf.Secret, digits, s.now(), tf.LastStep)
		if err != nil || !ok {
			return false, err
		}
		return s.store.UseTOTPStep(r.Context(), userID, step)
	}
	return s.store.UseRecoveryCode(r.Context(), userID, hashRecoveryCode(code), s.now())
}

// writeTwoFactorRequired answers a sign-in whose password was right but
// whose second factor is missing or wrong.
func writeTwoFactorRequired(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnauthorized, signInRefusal{Error: msg, TwoFactorRequired: true})
}

// startSession stores a new session of the user, sets its cookie and
// returns its id. The user's expired sessions are dropped on the way.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID string) (string, error) {
	now := s.now()
	if err := s.store.PruneSessions(r.Context(), userID, now.Add(-s.cfg.SessionIdle), now); err != nil {
		s.logError(r, "prune sessions", err)
	}
	value := secret.NewToken("")
	agent := r.UserAgent()
	if len(agent) > maxUserAgent {
		agent = agent[:maxUserAgent]
	}
	se := store.Session{ID: store.NewID(16), UserID: userID, TokenHash: secret.Hash(value), Address: clientIP(r),
		UserAgent: strings.ToValidUTF8(agent, ""), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionMax)}
	if err := s.store.CreateSession(r.Context(), se); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", Expires: se.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies()})
	return se.ID, nil
}

// secureCookies reports whether cookies are for HTTPS only: when the
// panel's public URL is https.
func (s *Server) secureCookies() bool {
	return strings.HasPrefix(strings.ToLower(s.cfg.PublicURL), "https://")
}

// logout is POST /auth/logout: the session of the cookie, if any, ends
// server-side, recorded as that session's act, and the cookie is cleared.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		hash := secret.Hash(ck.Value)
		se, err := s.store.SessionByHash(r.Context(), hash)
		switch {
		case fault.Is(err, fault.NotExist):
			// Ended already: there is nothing to end or record.
		case err != nil:
			return err
		default:
			err := s.store.DeleteSessionByHash(r.Context(), hash)
			s.forgetCredential(access.Session, se.ID)
			if err != nil {
				return err
			}
			s.audit(asCaller(r, access.Principal{Kind: access.Session, CredentialID: se.ID, UserID: se.UserID, Admin: se.Holder.Admin}),
				"account.logout", se.UserID)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies()})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// crossOriginProtection checks that cookie requests come from the panel's
// own pages: those of the request's host, and those of publicURL, which a
// reverse proxy may serve under another host than the one the panel sees.
func crossOriginProtection(publicURL string) *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	if origin := publicOrigin(publicURL); origin != "" {
		// An origin that does not parse is ignored: the request's host
		// still counts.
		_ = c.AddTrustedOrigin(origin)
	}
	return c
}

// publicOrigin is the origin (scheme://host) of the panel's public URL, or
// "" when it has none.
func publicOrigin(publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return ""
}

// sameOriginOnly refuses a request that changes anything from a page of
// another origin, for the routes that take no credential before they run
// (sign-in and sign-out).
func (s *Server) sameOriginOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.crossOrigin.Check(r); err != nil {
			s.writeError(w, r, fault.New(fault.Permission, "cross-origin request refused"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
