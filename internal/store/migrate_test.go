package store_test

import (
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/store"
)

func TestConcurrentOpensOfOneSQLiteFileMigrateOnce(t *testing.T) {
	dir := t.TempDir()
	const opens = 6
	errs := make([]error, opens)
	stores := make([]*store.Store, opens)
	var wg sync.WaitGroup
	for i := range opens {
		wg.Go(func() { stores[i], errs[i] = store.Open(ctx, "", dir) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ListInstances(ctx); err != nil {
		t.Errorf("schema after concurrent opens: %v", err)
	}
}
