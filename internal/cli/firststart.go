package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// firstAdmin is the username of the admin user a new panel makes.
const firstAdmin = "admin"

// printFirstStart, on a panel's first start, makes what a newcomer needs to
// get in, and prints it this once: the sign-in URL with a first admin user
// and its generated password, when the database has no user; and an admin
// API key, when it has none. The key is the last line, for scripts.
func printFirstStart(ctx context.Context, st *store.Store, stdout io.Writer, url string) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	hasKeys, err := st.HasAPIKeys(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 && hasKeys {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Berth is up at %s\n", url)
	if len(users) == 0 {
		password := secret.NewToken("")[:24]
		err := st.CreateUser(ctx, store.User{ID: store.NewID(16), Username: firstAdmin, Email: firstAdmin + "@localhost",
			PasswordHash: secret.HashPassword(password), Admin: true, CreatedAt: time.Now()})
		if err != nil {
			return fmt.Errorf("create the first admin: %w", err)
		}
		fmt.Fprintf(&b, "Sign in at %s/login as %q with the password (shown once; change it under Account):\n%s\n",
			strings.TrimSuffix(url, "/"), firstAdmin, password)
	}
	if !hasKeys {
		_, key, err := createAPIKey(ctx, st, "admin")
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "Admin API key (shown once, store it now):\n%s\n", key)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
