package panel

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

// decodeFuzzed decodes body as the handlers do.
func decodeFuzzed(body []byte, form bool) (body, error) {
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	if form {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return decodeBody(req)
}

// FuzzDecodeCreateUser feeds arbitrary bodies through decodeBody and
// readNewUser: a rejection is always a 400 naming a field, and what is
// accepted keeps every rule the store relies on.
func FuzzDecodeCreateUser(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, form bool) {
		b, err := decodeFuzzed(raw, form)
		if err != nil {
			checkRejection(t, raw, err)
			return
		}
		u, password, err := readNewUser(b)
		if err != nil {
			checkRejection(t, raw, err)
			return
		}
		if u.Username == "" || len(u.Username) > 64 || strings.TrimSpace(u.Username) != u.Username {
			t.Errorf("%q: accepted username %q", raw, u.Username)
		}
		if !strings.Contains(u.Email, "@") || len(u.Email) > 254 {
			t.Errorf("%q: accepted email %q", raw, u.Email)
		}
		if len(password) < minPassword || len(password) > maxPassword {
			t.Errorf("%q: accepted a password of %d bytes", raw, len(password))
		}
		if !userIDPattern.MatchString(u.ID) {
			t.Errorf("%q: accepted userId %q", raw, u.ID)
		}
	})
}

// FuzzReadDeploy feeds arbitrary bodies through decodeBody and readDeploy:
// a rejection is always a 400 naming a field, and an accepted deploy keeps
// the limits.
func FuzzReadDeploy(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, form bool) {
		b, err := decodeFuzzed(raw, form)
		if err != nil {
			checkRejection(t, raw, err)
			return
		}
		req, err := readDeploy(b)
		if err != nil {
			checkRejection(t, raw, err)
			return
		}
		in := req.instance
		if in.MemoryMiB < 1 || in.MemoryMiB > maxMemoryMiB || in.CPU < 0.01 || in.CPU > maxCPU || in.DiskMiB < 0 || in.DiskMiB > maxDiskMiB {
			t.Errorf("%q: accepted memory %d cpu %v disk %d", raw, in.MemoryMiB, in.CPU, in.DiskMiB)
		}
		if len(in.Ports) == 0 || in.Primary.Host == 0 || in.Name == "" || in.Image == "" || in.NodeID == "" || in.UserID == "" {
			t.Errorf("%q: accepted an incomplete deploy %+v", raw, in)
		}
		for k, v := range in.Variables {
			if !validEnvName(k) || strings.ContainsRune(v, 0) {
				t.Errorf("%q: accepted variable %q=%q", raw, k, v)
			}
		}
	})
}

// checkRejection fails unless err is an Invalid fault naming its field,
// that is, a 400 with a message that says what to fix.
func checkRejection(t *testing.T, raw []byte, err error) {
	t.Helper()
	var fe *fault.Error
	if statusOf(err) != 400 || !errors.As(err, &fe) || fe.Field == "" || !strings.HasPrefix(fault.Message(err), fe.Field+":") {
		t.Fatalf("%q: rejected with %v (status %d), want a 400 naming the field", raw, err, statusOf(err))
	}
}

func TestStatusOfMapsEachKindToOneStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fault.InvalidField("x", "bad"), 400},
		{fault.New(fault.NotExist, "gone"), 404},
		{fault.New(fault.Exist, "taken"), 409},
		{fault.New(fault.Conflict, "busy"), 409},
		{fault.New(fault.Permission, "no"), 403},
		{fault.New(fault.Unavailable, "down"), 503},
		{fault.New(fault.TooLarge, "big"), 413},
		{fault.New(fault.TooMany, "again"), 429},
		{errors.New("boom"), 500},
	} {
		if got := statusOf(c.err); got != c.want {
			t.Errorf("statusOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
