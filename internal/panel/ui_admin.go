package panel

import "net/http"

// adminPages registers the admin pages.
func (s *Server) adminPages(page func(string, http.Handler)) {}
