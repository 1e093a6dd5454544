package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// TestFirstStartPrintsASignInAndAKeyOnce: a new panel makes an admin user
// and an API key, and prints the sign-in URL, the password and the key
// once; the printed password is the admin's. A second start prints
// nothing and makes nothing.
func TestFirstStartPrintsASignInAndAKeyOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	if err := printFirstStart(ctx, st, &out, "http://127.0.0.1:9999"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], "http://127.0.0.1:9999/login") || !strings.Contains(lines[1], `"admin"`) {
		t.Fatalf("first start printed:\n%s", out.String())
	}
	u, err := st.UserByUsername(ctx, firstAdmin)
	if err != nil || !u.Admin {
		t.Fatalf("first admin: %+v, %v", u, err)
	}
	if ok, err := secret.CheckPassword(u.PasswordHash, lines[2]); !ok || err != nil {
		t.Fatalf("the printed password %q does not sign in as the admin: %v", lines[2], err)
	}
	if !strings.HasPrefix(lines[4], "berth_") {
		t.Fatalf("the last line is not the API key: %q", lines[4])
	}
	out.Reset()
	if err := printFirstStart(ctx, st, &out, "http://127.0.0.1:9999"); err != nil || out.Len() != 0 {
		t.Fatalf("second start: %v, printed %q", err, out.String())
	}
	if users, _ := st.ListUsers(ctx); len(users) != 1 {
		t.Fatalf("second start made users: %d", len(users))
	}
}
