package store_test

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/store/storetest"
)

// database is one test's own empty database; see storetest.Database.
type database = storetest.Database

func TestStoreOnSQLite(t *testing.T) {
	runStoreSuite(t, storetest.NewSQLite)
}

func TestStoreOnPostgres(t *testing.T) {
	base := storetest.SkipWithoutPostgres(t)
	runStoreSuite(t, func(t testing.TB) database { return storetest.NewPostgres(t, base) })
}

// runStoreSuite runs every store test against databases made by fresh.
func runStoreSuite(t *testing.T, fresh func(t testing.TB) database) {
	for _, c := range slices.Concat(storeSuite, accountSuite, placementSuite, scaleSuite, leaseSuite, pagesSuite, backupSuite) {
		t.Run(c.name, func(t *testing.T) { c.test(t, fresh(t)) })
	}
}
