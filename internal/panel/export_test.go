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
