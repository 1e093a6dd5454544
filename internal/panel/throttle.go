package panel

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// Sign-in throttling (DESIGN §8). Failed password and code checks are
// counted per account and per client address, in the database, so that
// several panels count together. Each check is counted as a failure
// before it runs and undone if it passes, so that parallel guesses cannot
// all get through before the first is counted. Past a limit within the
// window, the scope is locked for a time that doubles with each further
// failure, up to the window: nobody is locked out for good, and a lock
// holds even for the right password.
const (
	failureWindow       = 15 * time.Minute
	accountFailureLimit = 5
	addressFailureLimit = 20
	firstLockout        = time.Minute
)

// signInScopes are the scopes one attempt counts in.
type signInScopes struct {
	// account is the user's id when the name is known, else the name as
	// typed: unknown names are throttled alike, so the answer does not
	// tell which names exist.
	account string
	// address is the client's IPv4 address, or its IPv6 /64, which one
	// machine holds whole.
	address string
}

func accountScope(userID string) string { return "user:" + userID }

func scopesOf(r *http.Request, userID, typedName string) signInScopes {
	return scopesAt(clientIP(r), userID, typedName)
}

// scopesAt is scopesOf for a client at address addr: an SFTP client's,
// which its node reports.
func scopesAt(addr, userID, typedName string) signInScopes {
	sc := signInScopes{account: accountScope(userID), address: "addr:" + addr}
	if userID == "" {
		sc.account = "name:" + strings.ToLower(typedName)
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		ip = ip.Unmap()
		sc.address = "addr:" + ip.String()
		if ip.Is6() {
			p, _ := ip.Prefix(64)
			sc.address = "addr:" + p.String()
		}
	}
	return sc
}

// lockRemaining is how much longer failures f, against limit, lock their
// scope at now; zero or less means not locked.
func lockRemaining(f store.Failures, limit int, now time.Time) time.Duration {
	if f.Count < limit {
		return 0
	}
	lock := failureWindow
	if extra := f.Count - limit; extra < 8 {
		lock = min(firstLockout<<extra, failureWindow)
	}
	return f.Newest.Add(lock).Sub(now)
}

// attempt is a password or code check in progress. It counts as a failure
// from its start, so that parallel checks cannot all pass the throttle
// before any of them fails; unless it fails, its end undoes that.
type attempt struct {
	s      *Server
	r      *http.Request
	id     string
	failed bool
}

// beginAttempt starts a check in both scopes of sc, or refuses it while
// either is locked: 429 with Retry-After in whole seconds. The caller
// defers the attempt's end.
func (s *Server) beginAttempt(w http.ResponseWriter, r *http.Request, sc signInScopes) (*attempt, error) {
	a, wait, err := s.startAttempt(r, sc)
	if err != nil || wait <= 0 {
		return a, err
	}
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return nil, fault.New(fault.TooMany, "too many failed sign-ins: try again in %d seconds", secs)
}

// startAttempt starts a check in both scopes of sc. While either scope
// is locked it starts none and answers how long the lock lasts.
func (s *Server) startAttempt(r *http.Request, sc signInScopes) (*attempt, time.Duration, error) {
	now := s.now()
	a := &attempt{s: s, r: r, id: store.NewID(16)}
	others, err := s.store.BeginLoginAttempt(r.Context(), a.id, []string{sc.account, sc.address},
		now, now.Add(-failureWindow), now.Add(-failureWindow))
	if err != nil {
		// What was recorded stays, as a failure: a store that fails here
		// lets nobody guess on.
		return nil, 0, err
	}
	wait := max(lockRemaining(others[0], accountFailureLimit, now), lockRemaining(others[1], addressFailureLimit, now))
	if wait <= 0 {
		return a, 0, nil
	}
	// Refused before any check, the attempt is no failure.
	a.end()
	return nil, wait, nil
}

// fail keeps the attempt as a failed check.
func (a *attempt) fail() { a.failed = true }

// end undoes the attempt unless it failed. A failure to undo is logged:
// the attempt then counts as a failure, which errs on the safe side.
func (a *attempt) end() {
	if a.failed {
		return
	}
	// Undone even when the client has gone.
	ctx := context.WithoutCancel(a.r.Context())
	if err := a.s.store.EndLoginAttempt(ctx, a.id); err != nil {
		a.s.logError(a.r, "end sign-in attempt", err)
	}
}
