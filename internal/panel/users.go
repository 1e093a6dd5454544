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

// listUsers answers the users, oldest first; ?name= keeps those whose
// username or email starts with it, ignoring case.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	lq, err := readListQuery(r)
	if err != nil {
		return err
	}
	var f store.UserFilter
	if f.NamePrefix, err = filterText(lq.query, "name"); err != nil {
		return err
	}
	return writeList(s, w, r, lq, func(p store.Page) ([]store.User, error) {
		return s.store.UserPage(r.Context(), f, p)
	}, func(u store.User) (any, error) { return viewUser(u), nil })
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
	if u.Username, err = readUsername(b); err != nil {
		return u, "", err
	}
	if u.Email, err = readEmail(b); err != nil {
		return u, "", err
	}
	if !b.present("password") {
		return u, "", fault.InvalidField("password", "is required")
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

// readUsername reads the required username field.
func readUsername(b body) (string, error) {
	name, err := b.str("username", true, 64)
	if err != nil {
		return "", err
	}
	// A name shown in lists and logs must read as what it is: U+202E and
	// its kin reorder the text around them, and other format characters
	// are invisible, so either can make one name pass for another.
	if strings.IndexFunc(name, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0 {
		return "", fault.InvalidField("username", "must not contain invisible or text-direction characters (Unicode format characters such as U+202E)")
	}
	return name, nil
}

// readEmail reads the required email field.
func readEmail(b body) (string, error) {
	email, err := b.str("email", true, 254)
	if err != nil {
		return "", err
	}
	if at := strings.LastIndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t") {
		return "", fault.InvalidField("email", "must be an email address")
	}
	return email, nil
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

// readUserChange validates a PATCH /api/users/{userId} body: each field
// given is held to create-user's rules, and at least one must be given.
func readUserChange(b body) (store.UserChange, error) {
	var ch store.UserChange
	if b.present("username") {
		name, err := readUsername(b)
		if err != nil {
			return ch, err
		}
		ch.Username = &name
	}
	if b.present("email") {
		email, err := readEmail(b)
		if err != nil {
			return ch, err
		}
		ch.Email = &email
	}
	if b.present("admin") {
		admin, err := b.boolean("admin")
		if err != nil {
			return ch, err
		}
		ch.Admin = &admin
	}
	if b.present("password") {
		password, err := b.newPassword("password")
		if err != nil {
			return ch, err
		}
		// Hashed last, once every other field has passed: the hash is
		// the costly part.
		hash := secret.HashPassword(password)
		ch.PasswordHash = &hash
	}
	if ch == (store.UserChange{}) {
		return ch, fault.InvalidField("body", "must change at least one of username, email, password and admin")
	}
	return ch, nil
}

// pathUserID reads the {userId} of the path.
func pathUserID(r *http.Request) (string, error) {
	id := r.PathValue("userId")
	if !userIDPattern.MatchString(id) {
		return "", fault.InvalidField("userId", "may hold only letters, digits, '.', '_' and '-' (at most 64)")
	}
	return id, nil
}

// updateUser changes a user's username, email, password or admin flag:
// PATCH /api/users/{userId}. A new password ends the user's sessions. An
// admin user may not remove its own admin role.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUserID(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	ch, err := readUserChange(b)
	if err != nil {
		return err
	}
	if ch.Admin != nil && !*ch.Admin && callerOf(r).UserID == id {
		// An admin who drops its own role may be the last one, locked
		// out of every admin page: another admin, or a key, must do it.
		return fault.New(fault.Conflict, "admin: you cannot remove your own admin role; another admin can")
	}
	u, err := s.store.UpdateUser(r.Context(), id, ch)
	s.forgetUser(id)
	if err != nil {
		return err
	}
	s.audit(r, "user.update", id)
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}

// deleteUser removes a user who owns no instance: DELETE
// /api/users/{userId}, 204; 409 while instances remain.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUserID(r)
	if err != nil {
		return err
	}
	err = s.store.DeleteUser(r.Context(), id)
	s.forgetUser(id)
	if err != nil {
		return err
	}
	s.audit(r, "user.delete", id)
	w.WriteHeader(http.StatusNoContent)
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
