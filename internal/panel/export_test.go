package panel

import (
	"net/http"
	"slices"
)

// Patterns lists the patterns routes() registered, in order.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

// PatternOf is the pattern that would serve r, or "" when none would.
func (s *Server) PatternOf(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
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
