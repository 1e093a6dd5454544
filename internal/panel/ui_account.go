package panel

import "net/http"

// accountPages registers the pages of the viewer's own account.
func (s *Server) accountPages(page func(string, http.Handler)) {}
