package panel

import (
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/store"
)

// The admin API keys: GET, POST and DELETE /api/keys. A key is shown once,
// in the answer that creates it; lists show what it is called and when it
// was made or revoked, never the key or its hash.

// keyView is an API key as listed.
type keyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

func viewKey(k store.APIKey) keyView {
	v := keyView{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt}
	if !k.RevokedAt.IsZero() {
		v.RevokedAt = &k.RevokedAt
	}
	return v
}

// createdKey is the one answer that carries a key.
type createdKey struct {
	keyView
	Key string `json:"key"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.store.ListAPIKeys(r.Context())
	if err != nil {
		return err
	}
	out := make([]keyView, len(keys))
	for i, k := range keys {
		out[i] = viewKey(k)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createKey issues a new key: POST {"name"}, 201 with the key shown once.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	name, err := b.str("name", true, 100)
	if err != nil {
		return err
	}
	k, key, err := s.store.IssueAPIKey(r.Context(), name, time.Now())
	if err != nil {
		return err
	}
	s.audit(r, "apikey.create", k.ID)
	writeJSON(w, http.StatusCreated, createdKey{keyView: viewKey(k), Key: key})
	return nil
}

// revokeKey revokes a key at once, in this process's cache too: 204; 409
// for the last working key. Other panels sharing the database keep their
// cached entry for up to credCacheTTL.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = s.store.RevokeAPIKey(r.Context(), id, time.Now())
	s.forgetCredential(access.AdminKey, id)
	if err != nil {
		return err
	}
	s.audit(r, "apikey.revoke", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
