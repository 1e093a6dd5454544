package panel

import "net/http"

// instancePages registers the pages of one instance.
func (s *Server) instancePages(page func(string, http.Handler)) {}
