package panel

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// The admin pages of users, nodes, API keys and the audit log. Each lists
// from the store in one query; its forms and buttons call the admin API,
// which takes an admin's session. Secrets made here (a configure key, an
// API key) are shown once, by the page's script, from the API's answer:
// never in a page's HTML.

// adminPages registers the admin pages.
func (s *Server) adminPages(page func(string, http.Handler)) {
	page("GET /admin/users", s.adminPage(s.usersPage))
	page("GET /admin/nodes", s.adminPage(s.nodesPage))
	page("GET /admin/keys", s.adminPage(s.keysPage))
	page("GET /admin/audit", s.adminPage(s.auditPage))
}

// userRow is a user in the admin's list.
type userRow struct {
	ID, Username, Email string
	Admin, TwoFactor    bool
	// Self marks the viewer, who is not offered to delete itself.
	Self      bool
	Instances int
	CreatedAt time.Time
}

// usersPage lists the users, with forms to create, edit and delete them.
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.UserSummaries(r.Context())
	if err != nil {
		return err
	}
	rows := make([]userRow, len(list))
	for i, u := range list {
		rows[i] = userRow{ID: u.ID, Username: u.Username, Email: u.Email, Admin: u.Admin, TwoFactor: u.TwoFactor,
			Self: u.ID == v.ID, Instances: u.Instances, CreatedAt: u.CreatedAt}
	}
	return s.render(w, r, "admin_users", web.Page{Title: "Users", Section: "admin", Viewer: v, Data: rows})
}

// nodeRow is a node in the admin's list, with what its instances reserve.
type nodeRow struct {
	ID, Name, Address, Scheme, Version string
	Port                               int
	// Status is as stored ("Online"); StatusClass is its badge's word.
	Status, StatusClass string
	Instances           int
	// Memory and disk in MiB, reserved by the instances' limits and in all.
	UsedMemoryMiB, MemoryMiB, UsedDiskMiB, DiskMiB int64
	// UsedCPU sums the instances' CPU limits; CPUs is 0 until the node
	// reports its cores.
	UsedCPU  float64
	CPUs     int
	LastSeen time.Time
}

// nodesPage lists the nodes and their load, with a form to add one.
func (s *Server) nodesPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.NodeLoads(r.Context())
	if err != nil {
		return err
	}
	rows := make([]nodeRow, len(list))
	for i, n := range list {
		rows[i] = nodeRow{ID: n.ID, Name: n.Name, Address: n.Address, Scheme: n.Scheme, Version: n.Version, Port: n.Port,
			Status: n.Status, StatusClass: strings.ToLower(n.Status), Instances: n.Instances,
			UsedMemoryMiB: n.UsedMemoryMiB, MemoryMiB: n.RAMMiB, UsedDiskMiB: n.UsedDiskMiB, DiskMiB: n.DiskMiB,
			UsedCPU: n.UsedCPU, CPUs: n.CPUs, LastSeen: n.LastSeen}
	}
	return s.render(w, r, "admin_nodes", web.Page{Title: "Nodes", Section: "admin", Viewer: v, Data: rows})
}

// keyRow is an API key in the admin's list: never the key or its hash.
type keyRow struct {
	ID, Name   string
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastChange time.Time
}

// keysPage lists the API keys, with a form to create one.
func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.APIKeyUses(r.Context())
	if err != nil {
		return err
	}
	rows := make([]keyRow, len(list))
	for i, k := range list {
		rows[i] = keyRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastChange: k.LastChange}
	}
	return s.render(w, r, "admin_keys", web.Page{Title: "API keys", Section: "admin", Viewer: v, Data: rows})
}

// auditRow is an entry of the audit log as the page shows it.
type auditRow struct {
	store.AuditEntry
	// KeyName names the API key of a key's entry; empty for others, or
	// a key since lost.
	KeyName string
}

// auditView is the data of the audit log's page.
type auditView struct {
	Entries []auditRow
	// Action, Actor, Target, Since and Until are the filters as asked.
	Action, Actor, Target, Since, Until string
	// First is the first page's URL, when this is not the first page;
	// Next the next page's, when there is one.
	First, Next string
	// Error is why the filters were refused.
	Error string
}

// auditPage shows a page of the audit log: GET /api/audit's filters and
// paging, and ?target=. An actor may be given by username.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	q := r.URL.Query()
	view := auditView{Action: q.Get("action"), Actor: q.Get("actor"), Target: q.Get("target"),
		Since: q.Get("since"), Until: q.Get("until")}
	p := web.Page{Title: "Audit log", Section: "admin", Viewer: v, Data: &view}
	f, err := readActivityFilter(r, true)
	if err != nil {
		if fault.KindOf(err) != fault.Invalid {
			return err
		}
		view.Error = fault.Message(err)
		return s.render(w, r, "admin_audit", p)
	}
	if f.Actor != "" {
		if u, err := s.store.UserByUsername(r.Context(), f.Actor); err == nil {
			f.Actor = u.ID
		}
	}
	list, err := s.store.AuditPage(r.Context(), f)
	if err != nil {
		return err
	}
	names, err := s.keyNames(r)
	if err != nil {
		return err
	}
	view.Entries = make([]auditRow, len(list))
	for i, e := range list {
		view.Entries[i] = auditRow{AuditEntry: e}
		if e.ActorKind == "key" {
			view.Entries[i].KeyName = names[e.CredentialID]
		}
	}
	if q.Has("after") {
		view.First = auditURL(q, "")
	}
	if len(list) == f.Limit {
		last := list[len(list)-1]
		view.Next = auditURL(q, activityCursor(last))
	}
	return s.render(w, r, "admin_audit", p)
}

// keyNames maps the API keys' ids to their names.
func (s *Server) keyNames(r *http.Request) (map[string]string, error) {
	keys, err := s.store.ListAPIKeys(r.Context())
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(keys))
	for _, k := range keys {
		names[k.ID] = k.Name
	}
	return names, nil
}

// auditURL is the audit page of query q starting after cursor (the first
// page when cursor is ""), without the empty filters a form sends.
func auditURL(q url.Values, cursor string) string {
	next := url.Values{}
	for name, vals := range q {
		if name != "after" && len(vals) > 0 && vals[0] != "" {
			next.Set(name, vals[0])
		}
	}
	if cursor != "" {
		next.Set("after", cursor)
	}
	if len(next) == 0 {
		return "/admin/audit"
	}
	return "/admin/audit?" + next.Encode()
}
