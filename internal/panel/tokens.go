package panel

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// Personal access tokens, under /api/client/account/tokens. A token acts
// as its user and never more: its principal is built from the user's row
// (lookupToken), and a change to the user forgets it from the panel's
// cache (forgetUser), so a demoted admin's tokens lose admin at once.

// tokenView is a token as listed: never the token itself.
type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	ReadOnly   bool       `json:"readOnly"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// newTokenView is the one answer that carries a token.
type newTokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Token     string     `json:"token"`
	ReadOnly  bool       `json:"readOnly"`
	ExpiresAt *time.Time `json:"expiresAt"`
	CreatedAt time.Time  `json:"createdAt"`
}

// optionalTime is t, or nil for the zero time ("never").
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// createToken is POST /api/client/account/tokens {"name", "readOnly"?,
// "expiresAt"?}.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	name, err := b.str("name", true, 64)
	if err != nil {
		return err
	}
	readOnly, err := b.boolean("readOnly")
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	expires, err := b.futureTime("expiresAt", now)
	if err != nil {
		return err
	}
	token := secret.NewToken(tokenPrefix)
	t := store.AccessToken{ID: store.NewID(16), UserID: callerOf(r).UserID, Name: name, TokenHash: secret.Hash(token),
		ReadOnly: readOnly, ExpiresAt: expires, CreatedAt: now}
	if err := s.store.CreateAccessToken(r.Context(), t); err != nil {
		return err
	}
	s.audit(r, "account.token.create", t.ID)
	// The one answer that carries this secret: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, newTokenView{ID: t.ID, Name: t.Name, Token: token, ReadOnly: t.ReadOnly,
		ExpiresAt: optionalTime(t.ExpiresAt), CreatedAt: t.CreatedAt})
	return nil
}

// futureTime reads an optional RFC 3339 time that must lie after now; a
// missing or null one is the zero time.
func (b body) futureTime(name string, now time.Time) (time.Time, error) {
	if !b.present(name) {
		return time.Time{}, nil
	}
	var raw string
	err := json.Unmarshal(b[name], &raw)
	t, perr := time.Parse(time.RFC3339, raw)
	if err != nil || perr != nil {
		return time.Time{}, fault.InvalidField(name, "must be an RFC 3339 time such as 2030-01-31T12:00:00Z, or null")
	}
	t = t.UTC().Truncate(time.Millisecond)
	if !t.After(now) {
		return time.Time{}, fault.InvalidField(name, "must be in the future")
	}
	return t, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListAccessTokens(r.Context(), callerOf(r).UserID)
	if err != nil {
		return err
	}
	out := make([]tokenView, len(list))
	for i, t := range list {
		out[i] = viewToken(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// viewToken shapes a stored token: never its hash.
func viewToken(t store.AccessToken) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, ReadOnly: t.ReadOnly, ExpiresAt: optionalTime(t.ExpiresAt),
		LastUsedAt: optionalTime(t.LastUsedAt), CreatedAt: t.CreatedAt}
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	return s.endCredential(w, r, access.Token, "account.token.delete", s.store.DeleteAccessToken)
}
