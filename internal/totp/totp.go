// Package totp implements time-based one-time passwords (RFC 6238 over the
// HOTP of RFC 4226) as authenticator apps expect them: HMAC-SHA1, 30-second
// steps, six digits. It reports the step a code matched so that the caller
// can refuse a code already used in its window.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	// Period is the length of one step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one are accepted,
	// for clocks that drift and codes typed near the end of their step.
	Skew = 1
	// secretLen is RFC 4226's recommended key length for HMAC-SHA1.
	secretLen = 20
)

// encoding is base32 without padding, the form authenticator apps take.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrMalformedSecret reports a secret that is not base32.
var ErrMalformedSecret = errors.New("totp: malformed secret")

// NewSecret returns a random secret, base32-encoded.
func NewSecret() string {
	b := make([]byte, secretLen)
	rand.Read(b)
	return encoding.EncodeToString(b)
}

// URL is the otpauth:// address that authenticator apps read from a QR code
// or a link: issuer names the service and account the user.
func URL(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(Digits))
	q.Set("period", fmt.Sprint(int(Period/time.Second)))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// Step is the number of the step that holds t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the code of secret for the given step.
func Code(secret string, step int64) (string, error) {
	key, err := decode(secret)
	if err != nil {
		return "", err
	}
	return hotp(key, step), nil
}

// Verify reports whether code is valid for secret at time now, within Skew
// steps, and the step it matched. Steps at or before lastUsed are refused, so
// a code can be used once; pass the returned step as lastUsed next time.
func Verify(secret, code string, now time.Time, lastUsed int64) (step int64, ok bool, err error) {
	key, err := decode(secret)
	if err != nil {
		return 0, false, err
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != Digits {
		return 0, false, nil
	}
	cur := Step(now)
	// Every candidate is compared, matched or not, so the time taken does
	// not tell which step (if any) matched.
	for s := cur - Skew; s <= cur+Skew; s++ {
		if subtle.ConstantTimeCompare([]byte(hotp(key, s)), []byte(code)) == 1 && s > lastUsed && !ok {
			step, ok = s, true
		}
	}
	return step, ok, nil
}

func decode(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	key, err := encoding.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, ErrMalformedSecret
	}
	return key, nil
}

// hotp is RFC 4226's HOTP with dynamic truncation.
func hotp(key []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", Digits, bin%1_000_000)
}
