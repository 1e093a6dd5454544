package panel

import (
	"crypto/rsa"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// A user's SSH public keys, for SFTP, under
// /api/client/account/ssh-keys.

// maxPublicKey caps a publicKey field: an RSA key of 16384 bits fits.
const maxPublicKey = 16 << 10

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

type sshKeyView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	PublicKey   string    `json:"publicKey"`
	Fingerprint string    `json:"fingerprint"`
	CreatedAt   time.Time `json:"createdAt"`
}

func viewSSHKey(k store.SSHKey) sshKeyView {
	return sshKeyView{ID: k.ID, Name: k.Name, PublicKey: k.PublicKey, Fingerprint: k.Fingerprint, CreatedAt: k.CreatedAt}
}

// parsePublicKey reads one authorized_keys line without options, and
// returns the key and its comment. The line is one line: body.str refuses
// control characters, newlines among them.
func parsePublicKey(line string) (ssh.PublicKey, string, error) {
	pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return nil, "", fault.InvalidField("publicKey", "is not an OpenSSH public key (one line of authorized_keys, such as \"ssh-ed25519 AAAA... me@laptop\")")
	case len(options) > 0:
		return nil, "", fault.InvalidField("publicKey", "must not carry authorized_keys options")
	}
	if _, ok := pub.(*ssh.Certificate); ok {
		return nil, "", fault.InvalidField("publicKey", "must be a plain key, not a certificate")
	}
	if pub.Type() == ssh.KeyAlgoDSA {
		return nil, "", fault.InvalidField("publicKey", "DSA keys are too weak: use ed25519, ECDSA or RSA")
	}
	if ck, ok := pub.(ssh.CryptoPublicKey); ok {
		if k, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
			return nil, "", fault.InvalidField("publicKey", "RSA keys must have at least %d bits", minRSABits)
		}
	}
	return pub, comment, nil
}

// addSSHKey is POST /api/client/account/ssh-keys {"name"?, "publicKey"}.
// The name defaults to the key's comment.
func (s *Server) addSSHKey(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	line, err := b.str("publicKey", true, maxPublicKey)
	if err != nil {
		return err
	}
	name, err := b.str("name", false, 64)
	if err != nil {
		return err
	}
	pub, comment, err := parsePublicKey(line)
	if err != nil {
		return err
	}
	if name == "" {
		name = pub.Type()
		if c := strings.ToValidUTF8(strings.TrimSpace(comment), ""); c != "" && len(c) <= 64 {
			name = c
		}
	}
	k := store.SSHKey{ID: store.NewID(16), UserID: callerOf(r).UserID, Name: name,
		PublicKey:   strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		Fingerprint: ssh.FingerprintSHA256(pub), CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.CreateSSHKey(r.Context(), k); err != nil {
		return err
	}
	s.audit(r, "account.ssh-key.add", k.ID)
	writeJSON(w, http.StatusCreated, viewSSHKey(k))
	return nil
}

func (s *Server) listSSHKeys(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListSSHKeys(r.Context(), callerOf(r).UserID)
	if err != nil {
		return err
	}
	out := make([]sshKeyView, len(list))
	for i, k := range list {
		out[i] = viewSSHKey(k)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteSSHKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.store.DeleteSSHKey(r.Context(), callerOf(r).UserID, id); err != nil {
		return err
	}
	s.audit(r, "account.ssh-key.delete", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
