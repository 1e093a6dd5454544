package panel

// Patterns returns every pattern the server registered, in order, for the
// tests that walk the route table.
func (s *Server) Patterns() []string { return s.patterns }
