package panel

import (
	"net/http"
	"slices"
	"time"
)

// Patterns lists the patterns routes() registered, in order.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

// PatternOf is the pattern that would serve r, or "" when none would.
func (s *Server) PatternOf(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	if !slices.Contains(s.patterns, pattern) {
		return "" // a page of the web UI, not the API
	}
	return pattern
}

// PasswordChecks is how many argon2id password checks s has run.
func PasswordChecks(s *Server) int64 { return s.passwordChecks.Load() }

// DummyPasswordHash is the hash an unknown user's sign-in is checked
// against.
const DummyPasswordHash = dummyPasswordHash

// CredCacheTTL is how long a credential's lookup is cached: how late
// another panel's change to it may take effect in this one.
const CredCacheTTL = credCacheTTL

// SetConsoleTicks makes the consoles of s re-check their credentials on
// each value of ticks, in place of a ticker, and pass each outcome to
// checked. Set it before s serves.
func SetConsoleTicks(s *Server, ticks <-chan time.Time, checked func(error)) {
	s.consoleTicks, s.consoleChecked = ticks, checked
}
