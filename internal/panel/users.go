package panel

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// userIDPattern is what a caller-chosen userId may look like: clients pass
// Discord ids and UUIDs.
var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Password length bounds: argon2id makes a very long password expensive,
// and a short one is guessable.
const (
	minPassword = 8
	maxPassword = 1024
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = viewUser(u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	kind, err := b.str("type", true, 16)
	if err != nil {
		return err
	}
	value, err := b.str("value", true, 320)
	if err != nil {
		return err
	}
	var u store.User
	switch kind {
	case "email":
		u, err = s.store.UserByEmail(r.Context(), value)
	case "username":
		u, err = s.store.UserByUsername(r.Context(), value)
	default:
		return fault.InvalidField("type", "must be \"email\" or \"username\"")
	}
	if err != nil {
		return seedLookup{err}
	}
	writeJSON(w, s.cfg.Mode.status(userFound), viewUser(u))
	return nil
}

// readNewUser validates a create-user body.
func readNewUser(b body) (store.User, string, error) {
	var u store.User
	var err error
	if u.Username, err = b.str("username", true, 64); err != nil {
		return u, "", err
	}
	// A name shown in lists and logs must read as what it is: U+202E and
	// its kin reorder the text around them, and other format characters
	// are invisible, so either can make one name pass for another.
	if strings.IndexFunc(u.Username, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0 {
		return u, "", fault.InvalidField("username", "must not contain invisible or text-direction characters (Unicode format characters such as U+202E)")
	}
	if u.Email, err = b.str("email", true, 254); err != nil {
		return u, "", err
	}
	if at := strings.LastIndexByte(u.Email, '@'); at < 1 || at == len(u.Email)-1 || strings.ContainsAny(u.Email, " \t") {
		return u, "", fault.InvalidField("email", "must be an email address")
	}
	password, err := b.newPassword("password")
	if err != nil {
		return u, "", err
	}
	if u.ID, err = b.str("userId", false, 64); err != nil {
		return u, "", err
	}
	if u.ID == "" {
		u.ID = newUUID()
	} else if !userIDPattern.MatchString(u.ID) {
		return u, "", fault.InvalidField("userId", "may hold only letters, digits, '.', '_' and '-' (at most 64)")
	}
	if u.Admin, err = b.boolean("admin"); err != nil {
		return u, "", err
	}
	return u, password, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	u, password, err := readNewUser(b)
	if err != nil {
		return err
	}
	u.PasswordHash = secret.HashPassword(password)
	u.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		return err
	}
	s.audit(r, "user.create", u.ID)
	writeJSON(w, http.StatusCreated, viewUser(u))
	return nil
}

// password reads a password field. It is checked as str checks a string,
// but kept exactly as sent: a sign-in has to match what the user chose,
// spaces included.
func (b body) password(name string) (string, error) {
	password, err := b.str(name, true, maxPassword)
	if err != nil {
		return "", err
	}
	var exact string
	if json.Unmarshal(b[name], &exact) == nil {
		password = exact
	}
	return password, nil
}

// newPassword reads a password being chosen: password's rules, and long
// enough.
func (b body) newPassword(name string) (string, error) {
	password, err := b.password(name)
	if err == nil && len(password) < minPassword {
		err = fault.InvalidField(name, "must be at least %d characters", minPassword)
	}
	return password, err
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	h := store.NewID(16)
	b := []byte(h)
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return string(b[0:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16]) + "-" + string(b[16:20]) + "-" + string(b[20:32])
}
