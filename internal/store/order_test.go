package store_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// localeCollation gives, on PostgreSQL, the text columns that lists sort
// by a locale's collation, as they have in a database created under
// en_US.UTF-8; a test server created under C.UTF-8 would otherwise sort by
// bytes whatever the store asks.
func localeCollation(t *testing.T, st *store.Store) {
	t.Helper()
	if !st.Postgres() {
		return
	}
	for _, col := range []string{"users.id", "nodes.id", "instances.id", "templates.name_key"} {
		table, column, _ := strings.Cut(col, ".")
		err := store.ExecRaw(ctx, st, `ALTER TABLE `+table+` ALTER COLUMN `+column+` TYPE TEXT COLLATE "und-x-icu"`)
		if err != nil && strings.Contains(err.Error(), "does not exist") {
			t.Logf("this PostgreSQL has no ICU collation; lists are checked under its default one: %v", err)
			return
		}
		if err != nil {
			t.Fatalf("collate %s: %v", col, err)
		}
	}
}

// testListsSortTextByBytes: rows that tie on their creation time list in
// the byte order of their ids, and templates in the byte order of their
// lower-cased names, on SQLite and PostgreSQL alike, whatever the case and
// accents: a locale would put "alice" before "Bob" and "éclair" before
// "zoe", bytes put them after.
func testListsSortTextByBytes(t *testing.T, db database) {
	st := db(t)
	localeCollation(t, st)
	ids := []string{"zoe", "Zoe", "alice", "Émile", "émile", "bob", "Bob", "éclair", "eve", "Eve"}
	want := slices.Sorted(slices.Values(ids))
	at := time.UnixMilli(1_700_000_000_000).UTC()
	for i, id := range ids {
		if err := st.CreateUser(ctx, store.User{ID: id, Username: fmt.Sprint("user", i), Email: fmt.Sprint("user", i, "@example.com"),
			PasswordHash: "x", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateNode(ctx, store.Node{ID: id, Name: id, RAMMiB: 1 << 20, DiskMiB: 1 << 20, Address: "10.0.0.1",
			Port: 8443, Scheme: "http", Status: store.NodeUnconfigured, CreatedAt: at}, secret.Hash(id), at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		in := instance(t, id, "alice", "alice", fmt.Sprint(20000+i))
		in.CreatedAt = at
		mustCreate(t, st, in)
		if err := st.CreateTemplate(ctx, store.Template{ID: fmt.Sprint("t", i), Name: id + fmt.Sprint(i),
			Doc: []byte("{}"), CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got []string, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s list in the order\n %q\nwant\n %q", what, got, want)
		}
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("users", keys(users, func(u store.User) string { return u.ID }), want)
	nodes, err := st.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("nodes", keys(nodes, func(n store.Node) string { return n.ID }), want)
	instances, err := st.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("instances", keys(instances, func(in store.Instance) string { return in.ID }), want)
	templates, err := st.ListTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := keys(templates, func(tm store.Template) string { return tm.Name })
	check("templates", names, slices.SortedFunc(slices.Values(names), func(a, b string) int {
		return strings.Compare(strings.ToLower(a), strings.ToLower(b))
	}))
}

// keys maps a list to the key of each element.
func keys[T any](list []T, key func(T) string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = key(v)
	}
	return out
}
