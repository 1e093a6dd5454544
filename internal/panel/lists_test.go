package panel_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// rows stores rows straight into a panel's store, faster than the API.
type rows struct {
	t  testing.TB
	st *store.Store
	mu sync.Mutex
	n  int
}

// next returns a fresh sequence number for names and ports.
func (r *rows) next() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return r.n
}

func (r *rows) user(at time.Time) string {
	n := r.next()
	u := store.User{ID: store.NewID(8), Username: fmt.Sprintf("user%04d", n), Email: fmt.Sprintf("user%04d@example.com", n),
		PasswordHash: "unused", CreatedAt: at}
	if err := r.st.CreateUser(context.Background(), u); err != nil {
		r.t.Errorf("create user: %v", err)
	}
	return u.ID
}

func (r *rows) node(at time.Time) string {
	id := store.NewID(8)
	n := store.Node{ID: id, Name: fmt.Sprintf("node %d", r.next()), RAMMiB: 1 << 30, DiskMiB: 1 << 30, Address: "10.0.0.1",
		Port: 8443, Scheme: "https", Status: store.NodeOnline, CreatedAt: at}
	if err := r.st.CreateNode(context.Background(), n, secret.Hash(id), at); err != nil {
		r.t.Errorf("create node: %v", err)
	}
	return id
}

func (r *rows) instance(user, node, name, state, status string, at time.Time) string {
	bs := []ports.Binding{{Container: 25565, Host: 20000 + r.next()}}
	in := store.Instance{ID: store.NewID(8), Name: name, UserID: user, NodeID: node, Image: "ghcr.io/berth-dev/game:1",
		MemoryMiB: 64, CPU: 0.5, DiskMiB: 64, Ports: bs, Primary: bs[0], PrimaryRaw: "25565", Variables: map[string]string{},
		InternalState: state, Status: status, Desired: "running", Generation: 1, CreatedAt: at, InstallDeadline: at}
	if err := r.st.CreateInstance(context.Background(), in); err != nil {
		r.t.Errorf("create instance: %v", err)
	}
	return in.ID
}

func (r *rows) template(at time.Time) string {
	t := images.Template{Name: fmt.Sprintf("Template %04d", r.next()), Image: "alpine"}
	doc, err := json.Marshal(t)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.CreateTemplate(context.Background(), store.Template{ID: store.NewID(8), Name: t.Name, Doc: doc, CreatedAt: at}); err != nil {
		r.t.Errorf("create template: %v", err)
	}
	return t.Name
}

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// walk follows path's pages by their Link headers and returns the key of
// every element, in order, and the pages' sizes.
func walk(t *testing.T, p *testPanel, path, key string) ([]string, []int) {
	t.Helper()
	var keys []string
	var sizes []int
	for range 1000 {
		r := p.expect(200, "GET", path, nil)
		list := r.array(t)
		sizes = append(sizes, len(list))
		for _, e := range list {
			k, _ := e[key].(string)
			keys = append(keys, k)
		}
		link := r.header.Get("Link")
		if link == "" {
			return keys, sizes
		}
		m := nextLink.FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("GET %s: Link %q is not <...>; rel=\"next\"", path, link)
		}
		path = m[1]
	}
	t.Fatalf("GET %s: pages never end", path)
	return nil, nil
}

// TestListPagesFollowLinksWithoutDuplicateOrMissUnderConcurrentInserts
// walks each list's pages while rows are inserted beside it, some sorting
// before the walk's place (within the same millisecond as the rows there)
// and some after: every row that was there from the start is seen exactly
// once, no row twice, and only the last page lacks a Link.
func TestListPagesFollowLinksWithoutDuplicateOrMissUnderConcurrentInserts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		rs := &rows{t: t, st: p.st}
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		owner, node := rs.user(base), rs.node(base)
		lists := []struct {
			name, path, key string
			// add stores a row created at, and returns its key.
			add func(at time.Time) string
		}{
			{"users", "/api/users", "userId", rs.user},
			{"nodes", "/api/nodes", "id", rs.node},
			{"instances", "/api/instances", "Id", func(at time.Time) string {
				return rs.instance(owner, node, "server", store.StateReady, "running", at)
			}},
			{"images", "/api/images", "Name", rs.template},
		}
		for _, l := range lists {
			t.Run(l.name, func(t *testing.T) {
				// Three rows per millisecond, so that pages end inside one
				// and only the id orders the rows there.
				for i := range 23 {
					l.add(base.Add(time.Duration(i/3) * time.Millisecond))
				}
				before, _ := walk(t, p, l.path+"?limit=1000", l.key)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Bounded, so that the walk, which also meets the
					// rows inserted after its place, ends.
					for i := range 40 {
						select {
						case <-stop:
							return
						default:
						}
						// Alternately among the rows already listed and
						// after all of them.
						at := base.Add(time.Duration(i%8) * time.Millisecond)
						if i%2 == 1 {
							at = time.Now()
						}
						l.add(at)
					}
				}()
				got, sizes := walk(t, p, l.path+"?limit=4", l.key)
				close(stop)
				wg.Wait()

				seen := map[string]int{}
				for _, k := range got {
					seen[k]++
					if seen[k] == 2 {
						t.Errorf("%s listed twice", k)
					}
				}
				for _, k := range before {
					if seen[k] == 0 {
						t.Errorf("%s was there throughout and is missing", k)
					}
				}
				for i, n := range sizes[:len(sizes)-1] {
					if n != 4 {
						t.Errorf("page %d has %d rows, want 4: only the last may be short", i, n)
					}
				}
				if last := sizes[len(sizes)-1]; last == 0 || last > 4 {
					t.Errorf("last page has %d rows, want 1 to 4", last)
				}
				// The whole list, streamed, is the pages in their order.
				all, _ := walk(t, p, l.path, l.key)
				pages, _ := walk(t, p, l.path+"?limit=7", l.key)
				if !slices.Equal(all, pages) {
					t.Errorf("the list without limit is not its pages in order:\n%v\n%v", all, pages)
				}
			})
		}
	})
}

// TestListsRefuseABadLimitOrCursor answers 400 naming limit or after.
func TestListsRefuseABadLimitOrCursor(t *testing.T) {
	p := newPanel(t, panel.Config{})
	cursor := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cases := []struct{ query, field string }{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"limit=", "limit"},
		{"limit=5&after=", "after"},
		{"after=***", "after"},
		{"limit=5&after=" + cursor("no dot"), "after"},
		{"limit=5&after=" + cursor("12."), "after"},
		{"limit=5&after=" + cursor("x.id"), "after"},
		{"limit=5&after=" + cursor("1.a\x00b"), "after"},
		{"limit=5&after=" + cursor("1.\xff"), "after"},
		{"limit=5&after=" + cursor("1."+strings.Repeat("k", 300)), "after"},
	}
	for _, path := range []string{"/api/users", "/api/instances", "/api/nodes", "/api/images"} {
		for _, c := range cases {
			p.expectError(400, "GET", path+"?"+c.query, nil, c.field)
		}
	}
	p.expectError(400, "GET", "/api/audit?limit=1001", nil, "limit")
}

// TestInstanceFiltersCombineWithPages filters by node, user, state,
// status and name prefix, alone and together, a page of one at a time.
func TestInstanceFiltersCombineWithPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		rs := &rows{t: t, st: p.st}
		at := time.Now().Add(-time.Minute)
		u1, u2 := rs.user(at), rs.user(at)
		n1, n2 := rs.node(at), rs.node(at)
		type inst struct{ id, user, node, name, state, status string }
		var all []inst
		for i, c := range []inst{
			{user: u1, node: n1, name: "alpha 1", state: store.StateReady, status: "running"},
			{user: u1, node: n2, name: "alpha 2", state: store.StateReady, status: "stopped"},
			{user: u2, node: n1, name: "Alpha 3", state: store.StateInstalling, status: "offline"},
			{user: u2, node: n2, name: "beta", state: store.StateFailed, status: "offline"},
			{user: u1, node: n1, name: "alphabet", state: store.StateReady, status: "running"},
			{user: u2, node: n1, name: "alpha\u00e9", state: store.StateReady, status: "crashed"},
		} {
			c.id = rs.instance(c.user, c.node, c.name, c.state, c.status, at.Add(time.Duration(i)*time.Millisecond))
			all = append(all, c)
		}
		cases := []struct {
			query string
			keep  func(inst) bool
		}{
			{"node=" + n1, func(i inst) bool { return i.node == n1 }},
			{"user=" + u2, func(i inst) bool { return i.user == u2 }},
			{"state=READY", func(i inst) bool { return i.state == store.StateReady }},
			{"status=running", func(i inst) bool { return i.status == "running" }},
			{"name=alpha", func(i inst) bool { return strings.HasPrefix(i.name, "alpha") }},
			{"name=" + url.QueryEscape("alpha\u00e9"), func(i inst) bool { return i.name == "alpha\u00e9" }},
			{"node=" + n1 + "&user=" + u1 + "&state=READY&name=alpha", func(i inst) bool {
				return i.node == n1 && i.user == u1 && i.state == store.StateReady && strings.HasPrefix(i.name, "alpha")
			}},
			{"status=offline&node=" + n2, func(i inst) bool { return i.status == "offline" && i.node == n2 }},
		}
		for _, c := range cases {
			var want []string
			for _, i := range all {
				if c.keep(i) {
					want = append(want, i.id)
				}
			}
			got, _ := walk(t, p, "/api/instances?limit=1&"+c.query, "Id")
			if !slices.Equal(got, want) {
				t.Errorf("?%s paged: %v, want %v", c.query, got, want)
			}
			streamed, _ := walk(t, p, "/api/instances?"+c.query, "Id")
			if !slices.Equal(streamed, want) {
				t.Errorf("?%s: %v, want %v", c.query, streamed, want)
			}
		}

		// An instance of a node gone offline shows as offline, and is
		// found so.
		if err := p.st.SetNodeHealth(context.Background(), n1, store.NodeOffline, "", 0, time.Now()); err != nil {
			t.Fatal(err)
		}
		got, _ := walk(t, p, "/api/instances?status=offline", "Id")
		var want []string
		for _, i := range all {
			if i.node == n1 || i.status == "offline" {
				want = append(want, i.id)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("?status=offline with node 1 offline: %v, want %v", got, want)
		}
		if got, _ := walk(t, p, "/api/instances?status=running", "Id"); len(got) != 0 {
			t.Errorf("?status=running with node 1 offline: %v, want none", got)
		}

		p.expectError(400, "GET", "/api/instances?node=nope", nil, "node")
		p.expectError(400, "GET", "/api/instances?user=nope", nil, "user")
		p.expectError(400, "GET", "/api/instances?state=ready", nil, "state")
		p.expectError(400, "GET", "/api/instances?status=up", nil, "status")
		p.expectError(400, "GET", "/api/instances?name=%00", nil, "name")
	})
}

// TestUserFilterMatchesUsernameOrEmailPrefix finds users by the start of
// the username or the email, ignoring case, page by page.
func TestUserFilterMatchesUsernameOrEmailPrefix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		ctx := context.Background()
		at := time.Now()
		for i, u := range [][2]string{{"Steve", "steve@example.com"}, {"alex", "ALEX@example.org"},
			{"stella", "s@example.com"}, {"bob", "steam@example.net"}} {
			err := p.st.CreateUser(ctx, store.User{ID: "u" + itoa(i), Username: u[0], Email: u[1], PasswordHash: "x",
				CreatedAt: at.Add(time.Duration(i) * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			name string
			want []string
		}{
			{"st", []string{"u0", "u2", "u3"}},
			{"STEL", []string{"u2"}},
			{"steam", []string{"u3"}},
			{"alex@", []string{"u1"}},
			{"zed", nil},
		} {
			got, _ := walk(t, p, "/api/users?limit=1&name="+url.QueryEscape(c.name), "userId")
			if !slices.Equal(got, c.want) {
				t.Errorf("?name=%s: %v, want %v", c.name, got, c.want)
			}
		}
	})
}

// TestInstanceListCacheAnswersWhatARebuildWould makes writes of each
// kind (create, rename, status, suspend, a node going offline, delete)
// and after each compares the cached list, patched, with the list read
// afresh from the database, and at the end with a new panel's.
func TestInstanceListCacheAnswersWhatARebuildWould(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		ctx := context.Background()
		rs := &rows{t: t, st: p.st}
		at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
		owner, node := rs.user(at), rs.node(at)
		var ids []string
		for i := range 5 {
			ids = append(ids, rs.instance(owner, node, "server "+itoa(i), store.StateReady, "running", at))
		}
		compare := func(step string) {
			t.Helper()
			cached := p.expect(200, "GET", "/api/instances", nil).body
			fresh := p.expect(200, "GET", "/api/instances?limit=1000", nil).body
			if !bytes.Equal(cached, fresh) {
				t.Fatalf("after %s the cached list differs:\ncached %s\nfresh  %s", step, cached, fresh)
			}
		}
		compare("the first read")
		late := rs.instance(owner, node, "late", store.StateInstalling, "offline", at.Add(time.Second))
		compare("a create at the end")
		sorted := append([]string(nil), ids...)
		sort.Strings(sorted)
		early := rs.instance(owner, node, "early", store.StateInstalling, "offline", at)
		compare("a create among rows of the same millisecond")
		if _, err := p.st.RenameInstance(ctx, sorted[2], "renamed"); err != nil {
			t.Fatal(err)
		}
		compare("a rename")
		if err := p.st.SetObserved(ctx, node, ids[1], store.Observation{Status: "stopped", ContainerID: "c1"}); err != nil {
			t.Fatal(err)
		}
		if err := p.st.MarkApplied(ctx, late, 1, "running", "c2"); err != nil {
			t.Fatal(err)
		}
		compare("two status changes")
		p.expect(200, "POST", "/api/instances/suspend/"+ids[3], nil)
		compare("a suspend")
		if err := p.st.SetNodeHealth(ctx, node, store.NodeOffline, "", 0, time.Now()); err != nil {
			t.Fatal(err)
		}
		compare("its node going offline")
		p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": early})
		p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": ids[0]})
		compare("two deletes")
		other := newPanelOn(t, p.st, panel.Config{}).expect(200, "GET", "/api/instances", nil).body
		if cached := p.expect(200, "GET", "/api/instances", nil).body; !bytes.Equal(cached, other) {
			t.Fatalf("the patched list differs from a new panel's:\n%s\n%s", cached, other)
		}
	})
}
