package panel

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/httplog"
)

// authenticator checks one kind of credential on a request. It reports
// found = false when the request carries none of its kind, so that the
// next authenticator is tried; with one found, it returns the caller's
// key id or the reason the credential is refused. The API key is the only
// kind today; the UI's session cookie will be another.
type authenticator func(r *http.Request) (callerID string, found bool, err error)

// errKeyInvalid refuses an unknown or revoked API key.
var errKeyInvalid = errors.New("API key is invalid")

// requireAuth lets a request through when one of auths accepts it; none
// finding a credential is a 401, as is a credential refused.
func (s *Server) requireAuth(next http.Handler, auths ...authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, auth := range auths {
			id, found, err := auth(r)
			if !found {
				continue
			}
			if errors.Is(err, errKeyInvalid) {
				writeErrorMessage(w, http.StatusUnauthorized, err.Error())
				return
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			httplog.Add(r.Context(), slog.String(logKeyID, id))
			ctx := access.WithPrincipal(r.Context(), access.Principal{Kind: access.AdminKey, CredentialID: id})
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		writeErrorMessage(w, http.StatusUnauthorized, "API key is required")
	})
}

// apiKeyAuth authenticates by the x-api-key header.
func (s *Server) apiKeyAuth(r *http.Request) (string, bool, error) {
	key := r.Header.Get("x-api-key")
	if key == "" {
		return "", false, nil
	}
	id, err := s.authenticate(r, key)
	if fault.Is(err, fault.NotExist) {
		return "", true, errKeyInvalid
	}
	return id, true, err
}

// consoleAuthenticators are the credentials the console WebSocket takes.
// Browsers cannot set headers on a WebSocket, so the UI's session cookie
// will be added here when the UI exists.
func (s *Server) consoleAuthenticators() []authenticator {
	return []authenticator{s.apiKeyAuth}
}
