package panel

import "net/http"

// instanceDataPages registers the pages of an instance's data and
// people: files, settings, subusers and activity.
func (s *Server) instanceDataPages(page func(string, http.Handler)) {}
