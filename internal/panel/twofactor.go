package panel

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"rsc.io/qr"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/totp"
)

// Two-factor authentication (TOTP, RFC 6238), under
// /api/client/account/2fa: setup shows the secret once, enable turns it on
// with a first code and shows the recovery codes once, disable takes the
// password and a code. An admin can turn a user's off
// (POST /api/users/{userId}/reset-2fa).

// totpIssuer names Berth in authenticator apps.
const totpIssuer = "Berth"

// recoveryCodeCount is how many recovery codes enabling makes.
const recoveryCodeCount = 10

// recoveryEncoding writes recovery codes in lower-case base32, which has
// no 0/O or 1/l to confuse.
var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCode returns a code of 80 random bits, as xxxx-xxxx-xxxx-xxxx.
// With that much entropy a SHA-256 of it is as safe to store as argon2id,
// and checking ten of them costs nothing.
func newRecoveryCode() string {
	b := make([]byte, 10)
	rand.Read(b)
	s := strings.ToLower(recoveryEncoding.EncodeToString(b))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// hashRecoveryCode is the stored form of a recovery code, however the
// user typed its case, dashes and spaces.
func hashRecoveryCode(code string) string {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	return secret.Hash(code)
}

// setupTwoFactor is POST /api/client/account/2fa/setup: a new secret, not
// yet in force. This answer is the only one that carries it.
func (s *Server) setupTwoFactor(w http.ResponseWriter, r *http.Request) error {
	u, err := s.callerUser(r)
	if err != nil {
		return err
	}
	key := totp.NewSecret()
	if err := s.store.StartTwoFactor(r.Context(), u.ID, key, s.now()); err != nil {
		return err
	}
	link := totp.URL(totpIssuer, u.Username, key)
	png, err := qrPNG(link)
	if err != nil {
		return err
	}
	s.audit(r, "account.2fa.setup", u.ID)
	// The one answer that carries this secret: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, twoFactorSetupView{Secret: key, OTPAuthURL: link, QRPng: png})
	return nil
}

// twoFactorSetupView is the one answer that carries a TOTP secret.
type twoFactorSetupView struct {
	Secret     string `json:"secret" doc:"base32, for an authenticator app"`
	OTPAuthURL string `json:"otpauthUrl" doc:"the secret as an otpauth:// URL, for a QR code"`
	QRPng      string `json:"qrPng" doc:"otpauthUrl as a QR code: a PNG image as a data: URI, for an <img>"`
}

// qrScale is how many pixels wide one module of a QR code is drawn.
const qrScale = 6

// qrPNG draws text as a QR code (error correction level M, the usual
// trade of size against damage) and returns it as a PNG data: URI. It is
// drawn on the server because the UI takes no third-party script, and the
// page's CSP allows data: images.
func qrPNG(text string) (string, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("draw the QR code: %w", err)
	}
	code.Scale = qrScale
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(code.PNG()), nil
}

// recoveryCodesView is the one answer that carries the recovery codes.
type recoveryCodesView struct {
	RecoveryCodes []string `json:"recoveryCodes"`
}

// enableTwoFactor is POST /api/client/account/2fa/enable {"code"}: a first
// code from the set-up secret turns two-factor on, and the answer carries
// the recovery codes, this once.
func (s *Server) enableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	code, err := b.str("code", true, 16)
	if err != nil {
		return err
	}
	userID := callerOf(r).UserID
	tf, err := s.store.TwoFactorOf(r.Context(), userID)
	if fault.Is(err, fault.NotExist) {
		return fault.New(fault.Conflict, "two-factor is not being set up: call POST /api/client/account/2fa/setup first")
	}
	if err != nil {
		return err
	}
	if tf.Enabled {
		return fault.New(fault.Conflict, "two-factor is already enabled")
	}
	step, ok, err := totp.Verify(tf.Secret, code, s.now(), tf.LastStep)
	if err != nil {
		return err
	}
	if !ok {
		return fault.InvalidField("code", "is not the authenticator's current code")
	}
	codes := make([]string, recoveryCodeCount)
	hashes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = hashRecoveryCode(codes[i])
	}
	err = s.store.EnableTwoFactor(r.Context(), userID, step, hashes)
	s.forgetUser(userID)
	if err != nil {
		return err
	}
	s.audit(r, "account.2fa.enable", userID)
	// The one answer that carries this secret: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, recoveryCodesView{RecoveryCodes: codes})
	return nil
}

// disableTwoFactor is POST /api/client/account/2fa/disable {"password",
// "code"}; code is a TOTP code or a recovery code.
func (s *Server) disableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	password, err := b.password("password")
	if err != nil {
		return err
	}
	code, err := b.str("code", true, 64)
	if err != nil {
		return err
	}
	u, err := s.callerUser(r)
	if err != nil {
		return err
	}
	a, err := s.checkOwnPassword(w, r, u, "password", password)
	if err != nil {
		return err
	}
	defer a.end()
	on, err := s.twoFactorOn(r, u.ID)
	if err != nil {
		return err
	}
	if !on {
		return fault.New(fault.Conflict, "two-factor is not enabled")
	}
	ok, err := s.checkSecondFactor(r, u.ID, code)
	if err != nil {
		return err
	}
	if !ok {
		a.fail()
		return &fault.Error{Kind: fault.Permission, Field: "code", Msg: "code: is wrong or was used already"}
	}
	err = s.store.DisableTwoFactor(r.Context(), u.ID)
	s.forgetUser(u.ID)
	if err != nil {
		return err
	}
	s.audit(r, "account.2fa.disable", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetTwoFactor is POST /api/users/{userId}/reset-2fa, for admins: the
// user's two-factor is off, and the user is answered.
func (s *Server) resetTwoFactor(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("userId")
	err := s.store.DisableTwoFactor(r.Context(), id)
	s.forgetUser(id)
	if err != nil {
		return err
	}
	u, err := s.store.UserByID(r.Context(), id)
	if err != nil {
		return err
	}
	s.audit(r, "user.reset-2fa", id)
	writeJSON(w, http.StatusOK, viewAccount(u, false))
	return nil
}
