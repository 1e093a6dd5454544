package panel

import (
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
// several panels count together. Past a limit within the window, the
// scope is locked for a time that doubles with each further failure, up
// to the window: nobody is locked out for good, and a lock holds even
// for the right password.
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
	sc := signInScopes{account: accountScope(userID), address: "addr:" + clientIP(r)}
	if userID == "" {
		sc.account = "name:" + strings.ToLower(typedName)
	}
	if ip, err := netip.ParseAddr(clientIP(r)); err == nil {
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

// throttled refuses an attempt while either scope is locked: 429 with
// Retry-After in whole seconds.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request, sc signInScopes) error {
	now := s.now()
	since := now.Add(-failureWindow)
	var wait time.Duration
	for _, c := range []struct {
		scope string
		limit int
	}{{sc.account, accountFailureLimit}, {sc.address, addressFailureLimit}} {
		f, err := s.store.LoginFailures(r.Context(), c.scope, since)
		if err != nil {
			return err
		}
		wait = max(wait, lockRemaining(f, c.limit, now))
	}
	if wait <= 0 {
		return nil
	}
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return fault.New(fault.TooMany, "too many failed sign-ins: try again in %d seconds", secs)
}

// recordFailure counts a failed check in both scopes. A failure to count
// is logged: the caller's answer is a refusal all the same.
func (s *Server) recordFailure(r *http.Request, sc signInScopes) {
	now := s.now()
	if err := s.store.RecordLoginFailure(r.Context(), []string{sc.account, sc.address}, now, now.Add(-failureWindow)); err != nil {
		s.logError(r, "record sign-in failure", err)
	}
}
