package totp

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 key of RFC 6238's appendix B, base32-encoded.
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

// TestCodeMatchesRFC6238Vectors checks the last six digits of the RFC's
// eight-digit SHA-1 vectors.
func TestCodeMatchesRFC6238Vectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		got, err := Code(rfcSecret, Step(time.Unix(tc.unix, 0)))
		if err != nil || got != tc.want {
			t.Errorf("Code at %d = %q, %v; want %q", tc.unix, got, err, tc.want)
		}
	}
}

func TestVerifyAcceptsAdjacentStepsOnly(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		offset time.Duration
		ok     bool
	}{
		{-2 * Period, false},
		{-Period, true},
		{0, true},
		{Period, true},
		{2 * Period, false},
	} {
		code, _ := Code(rfcSecret, Step(now.Add(tc.offset)))
		_, ok, err := Verify(rfcSecret, code, now, 0)
		if err != nil || ok != tc.ok {
			t.Errorf("code of step %+v: ok=%v err=%v, want ok=%v", tc.offset, ok, err, tc.ok)
		}
	}
}

func TestVerifyRefusesReplay(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	code, _ := Code(rfcSecret, Step(now))
	step, ok, _ := Verify(rfcSecret, code, now, 0)
	if !ok || step != Step(now) {
		t.Fatalf("first use: ok=%v step=%d", ok, step)
	}
	if _, ok, _ := Verify(rfcSecret, code, now.Add(10*time.Second), step); ok {
		t.Fatal("the same code was accepted twice in its window")
	}
	// An older code, still inside the skew, is refused once a newer one was used.
	older, _ := Code(rfcSecret, Step(now)-1)
	if _, ok, _ := Verify(rfcSecret, older, now, step); ok {
		t.Fatal("a code older than the last used one was accepted")
	}
	next, _ := Code(rfcSecret, Step(now)+1)
	if _, ok, _ := Verify(rfcSecret, next, now.Add(Period), step); !ok {
		t.Fatal("the next step's code was refused")
	}
}

func TestVerifyRefusesMalformedInput(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, code := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok, err := Verify(rfcSecret, code, now, 0); ok || err != nil {
			t.Errorf("code %q: ok=%v err=%v", code, ok, err)
		}
	}
	if _, _, err := Verify("not base32!", "123456", now, 0); err != ErrMalformedSecret {
		t.Errorf("malformed secret: err=%v", err)
	}
}

func TestNewSecretAndURL(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || len(a) != 32 {
		t.Fatalf("secrets %q %q", a, b)
	}
	u := URL("Berth", "alice@example.com", a)
	if !strings.HasPrefix(u, "otpauth://totp/Berth:alice@example.com?") || !strings.Contains(u, "secret="+a) {
		t.Fatalf("url %q", u)
	}
}
