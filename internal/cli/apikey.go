package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/store"
)

func runAPIKey(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: berth apikey create [-name NAME] [-data DIR | -database URL]")
	}
	fs := newFlags("apikey create")
	name := fs.String("name", "admin", "a name to recognise the key by")
	var data, dbURL string
	config.BindData(fs, &data)
	config.BindDatabase(fs, &dbURL)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	st, err := openStore(ctx, data, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	id, key, err := createAPIKey(ctx, st, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created API key %s (%s). It is shown once; store it now:\n%s\n", id, *name, key)
	return nil
}

// openStore opens the database of a command that works on it directly:
// the data folder's SQLite file, or the -database URL.
func openStore(ctx context.Context, data, dbURL string) (*store.Store, error) {
	data, err := config.AbsData(data)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, dbURL, data)
}

// createAPIKey makes a key, stores its hash, and returns its id and the key.
func createAPIKey(ctx context.Context, st *store.Store, name string) (string, string, error) {
	k, key, err := st.IssueAPIKey(ctx, name, time.Now())
	return k.ID, key, err
}
