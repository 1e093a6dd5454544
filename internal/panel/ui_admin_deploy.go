package panel

import "net/http"

// adminDeployPages registers the admin pages of instances and templates:
// the list of all instances, the deploy form and the templates.
func (s *Server) adminDeployPages(page func(string, http.Handler)) {}
