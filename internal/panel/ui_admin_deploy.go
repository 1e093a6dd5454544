package panel

import (
	"cmp"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// adminDeployPages registers the admin pages of instances and templates:
// the list of all instances, the deploy form and the templates.
func (s *Server) adminDeployPages(page func(string, http.Handler)) {
	page("GET /admin/instances", s.adminPage(s.adminInstancesPage))
	page("GET /admin/deploy", s.adminPage(s.deployPage))
	page("GET /admin/templates", s.adminPage(s.templatesPage))
}

// instancesPerPage is how many rows the list of all instances shows at
// once: 100 rows keep the page under 50 KB.
const instancesPerPage = 100

// States an admin may filter the list of all instances by: the statuses an
// instance shows, and the install's failure and suspension beside them.
const (
	stateSuspended = "suspended"
	stateFailed    = "failed"
)

var filterStates = []string{
	nodeapi.StatusRunning, nodeapi.StatusStarting, nodeapi.StatusStopping, nodeapi.StatusStopped,
	nodeapi.StatusCrashed, nodeapi.StatusOffline, nodeapi.StatusInstalling, stateFailed, stateSuspended,
}

// instanceFilter is what the list of all instances is narrowed to: every
// field empty shows all.
type instanceFilter struct {
	// User is the owner's username, ignoring case, or id.
	Node, User, State string
	// Query is part of the name, ignoring case.
	Query string
	// Page counts from 1.
	Page int
	// owner is the id User names, once resolved; "" matches no one.
	owner string
}

// readInstanceFilter reads the query of /admin/instances; an unknown state
// or a bad page names its parameter.
func readInstanceFilter(q url.Values) (instanceFilter, error) {
	f := instanceFilter{Node: q.Get("node"), User: q.Get("user"), State: q.Get("state"),
		Query: strings.TrimSpace(q.Get("q")), Page: 1}
	if f.State != "" && !slices.Contains(filterStates, f.State) {
		return f, fault.InvalidField("state", "must be one of %s", strings.Join(filterStates, ", "))
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return f, fault.InvalidField("page", "must be a whole number from 1")
		}
		f.Page = n
	}
	return f, nil
}

// matches reports whether in passes every part of the filter.
func (f instanceFilter) matches(in store.Instance) bool {
	switch {
	case f.Node != "" && in.NodeID != f.Node,
		f.User != "" && in.UserID != f.owner,
		f.Query != "" && !strings.Contains(strings.ToLower(in.Name), strings.ToLower(f.Query)):
		return false
	}
	switch f.State {
	case "":
		return true
	case stateSuspended:
		return in.Suspended
	case stateFailed:
		return in.InternalState == store.StateFailed
	case nodeapi.StatusInstalling:
		return in.InternalState == store.StateInstalling
	}
	return viewInstance(in).Status == f.State
}

// link is the list's URL with this filter at page n.
func (f instanceFilter) link(page int) string {
	q := url.Values{}
	for k, v := range map[string]string{"node": f.Node, "user": f.User, "state": f.State, "q": f.Query} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/admin/instances"
	}
	return "/admin/instances?" + q.Encode()
}

// choice is one option of a <select>.
type choice struct{ Value, Label string }

// adminInstanceRow is one instance in the list of all instances.
type adminInstanceRow struct {
	ID, Name, Owner, Node, Status, Address string
	Suspended                              bool
	MemoryMiB, DiskMiB                     int64
	CPU                                    float64
}

// adminInstancesView is the data of the list of all instances.
type adminInstancesView struct {
	Rows   []adminInstanceRow
	Filter instanceFilter
	Nodes  []choice
	States []string
	// Total counts every instance; Matched those the filter keeps.
	Total, Matched int
	// Prev and Next link to the neighbouring pages, when there are any.
	Prev, Next string
}

// adminInstancesPage lists every instance, filtered on the server.
func (s *Server) adminInstancesPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	f, err := readInstanceFilter(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	list, err := s.store.ListInstances(ctx)
	if err != nil {
		return err
	}
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return err
	}
	nodes, err := s.store.ListNodes(ctx)
	if err != nil {
		return err
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Username
		if f.User == u.ID || strings.EqualFold(f.User, u.Username) {
			f.owner = u.ID
		}
	}
	view := adminInstancesView{Filter: f, States: filterStates, Total: len(list)}
	for _, n := range nodes {
		view.Nodes = append(view.Nodes, choice{n.ID, n.Name})
	}
	var kept []store.Instance
	for _, in := range list {
		if f.matches(in) {
			kept = append(kept, in)
		}
	}
	view.Matched = len(kept)
	if pages := (len(kept) + instancesPerPage - 1) / instancesPerPage; f.Page > max(pages, 1) {
		return fault.InvalidField("page", "must be at most %d", max(pages, 1))
	}
	from := (f.Page - 1) * instancesPerPage
	to := min(from+instancesPerPage, len(kept))
	for _, in := range kept[from:to] {
		view.Rows = append(view.Rows, adminInstanceRow{ID: in.ID, Name: in.Name, Owner: names[in.UserID],
			Node: in.Node.Name, Status: viewInstance(in).Status, Suspended: in.Suspended,
			Address:   net.JoinHostPort(in.Node.Address, strconv.Itoa(in.Primary.Host)),
			MemoryMiB: in.MemoryMiB, DiskMiB: in.DiskMiB, CPU: in.CPU})
	}
	if f.Page > 1 {
		view.Prev = f.link(f.Page - 1)
	}
	if to < len(kept) {
		view.Next = f.link(f.Page + 1)
	}
	return s.render(w, r, "admin_instances", web.Page{Title: "All instances", Section: "admin", Viewer: v, Data: view})
}

// userChoices are users as options, by username.
func userChoices(users []store.User) []choice {
	out := make([]choice, len(users))
	for i, u := range users {
		out[i] = choice{u.ID, u.Username + " (" + u.Email + ")"}
	}
	slices.SortFunc(out, func(a, b choice) int { return cmp.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) })
	return out
}

// The range host ports are suggested from: game servers' usual ports
// start at Minecraft's.
const (
	firstSuggestedPort = 25565
	lastPort           = 65535
)

// suggestPort is the first port from firstSuggestedPort up that is not in
// used (ascending), or 0 when every one is taken.
func suggestPort(used []int) int {
	p := firstSuggestedPort
	for _, u := range used {
		if u > p {
			break
		}
		if u == p {
			p++
		}
	}
	if p > lastPort {
		return 0
	}
	return p
}

// nodeChoice is a node of the deploy form, with what it has free.
type nodeChoice struct {
	ID, Name, Status        string
	FreeMemoryMiB, FreeDisk int64
	CPUs                    int
	// Port is the host port suggested for a deploy to it; 0 when none is
	// free.
	Port int
}

// variableField is one of a template's variables as a form field.
type variableField struct {
	Key, Label, Description, Default string
	Required, Locked                 bool
	// Choices, when set, make the field a <select>.
	Choices []string
	// Input is the type of the <input>: text or number.
	Input string
	// Min and Max are the input's bounds ("" for none), MinLength and
	// MaxLength a text's.
	Min, Max, MinLength, MaxLength string
	// Step is a number input's step: 1 for a whole number, any otherwise.
	Step string
	// Rules are the checks the value must pass, in words.
	Rules string
}

// templateForm is a template as the deploy form offers it.
type templateForm struct {
	ID, Name, Description, Author, Startup string
	// Images are the Docker images a deploy may choose, the default first.
	Images    []string
	Variables []variableField
}

// deployView is the data of the deploy form.
type deployView struct {
	Templates []templateForm
	Users     []choice
	Nodes     []nodeChoice
	// Selected is the template chosen first: the query's, or the first.
	Selected string
}

// deployPage renders the deploy form: templates with their variables,
// owners, and nodes with their free capacity and a free port.
func (s *Server) deployPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	ctx := r.Context()
	tmpls, err := s.templateForms(r)
	if err != nil {
		return err
	}
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return err
	}
	nodes, err := s.nodeChoices(r)
	if err != nil {
		return err
	}
	view := deployView{Templates: tmpls, Users: userChoices(users), Nodes: nodes}
	if len(tmpls) > 0 {
		view.Selected = tmpls[0].ID
	}
	if want := r.URL.Query().Get("template"); want != "" {
		for _, t := range tmpls {
			if t.ID == want {
				view.Selected = want
			}
		}
	}
	return s.render(w, r, "admin_deploy", web.Page{Title: "Deploy an instance", Section: "admin", Viewer: v, Data: view})
}

// nodeChoices lists the nodes with what their instances leave free and a
// free host port each, in two queries whatever the count.
func (s *Server) nodeChoices(r *http.Request) ([]nodeChoice, error) {
	ctx := r.Context()
	nodes, err := s.store.NodeLoads(ctx)
	if err != nil {
		return nil, err
	}
	used, err := s.store.HostPorts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]nodeChoice, len(nodes))
	for i, n := range nodes {
		out[i] = nodeChoice{ID: n.ID, Name: n.Name, Status: n.Status, CPUs: n.CPUs,
			FreeMemoryMiB: max(n.RAMMiB-n.UsedMemoryMiB, 0), FreeDisk: max(n.Node.DiskMiB-n.UsedDiskMiB, 0),
			Port: suggestPort(used[n.ID])}
	}
	return out, nil
}

// templateForms reads every template as the forms show it.
func (s *Server) templateForms(r *http.Request) ([]templateForm, error) {
	rows, err := s.store.ListTemplates(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]templateForm, 0, len(rows))
	for _, row := range rows {
		t, err := images.Decode(row.Doc)
		if err != nil {
			return nil, err
		}
		f := templateForm{ID: row.ID, Name: row.Name, Description: t.Description, Author: t.Author,
			Startup: t.Startup, Images: append([]string{t.Image}, t.AltImages...)}
		keys := make([]string, 0, len(t.Variables))
		for k := range t.Variables {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f.Variables = append(f.Variables, fieldOf(k, t.Variables[k]))
		}
		out = append(out, f)
	}
	return out, nil
}

// fieldOf turns a variable's rules into a form field: its input type,
// bounds and choices, and the rules in words for its hint.
func fieldOf(key string, v images.Variable) variableField {
	f := variableField{Key: key, Label: cmp.Or(v.Name, key), Description: v.Description, Default: v.Default,
		Required: v.Required, Locked: !v.Editable(), Choices: v.OneOf, Input: "text"}
	bound := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	switch v.Type {
	case images.TypeInt, images.TypeNumber:
		f.Input, f.Min, f.Max, f.Step = "number", bound(v.Min), bound(v.Max), "any"
		if v.Type == images.TypeInt {
			f.Step = "1"
		}
	case images.TypeBool:
		if len(f.Choices) == 0 {
			f.Choices = []string{"true", "false"}
		}
	default:
		f.MinLength, f.MaxLength = bound(v.Min), bound(v.Max)
	}
	f.Rules = describeRules(v)
	return f
}

// describeRules writes a variable's rules as a hint, such as "Required. A
// whole number from 1 to 100."
func describeRules(v images.Variable) string {
	var parts []string
	if v.Required {
		parts = append(parts, "Required.")
	}
	switch v.Type {
	case images.TypeInt:
		parts = append(parts, "A whole number"+rangeWords(v.Min, v.Max, "")+".")
	case images.TypeNumber:
		parts = append(parts, "A number"+rangeWords(v.Min, v.Max, "")+".")
	case images.TypeBool:
		parts = append(parts, "true or false.")
	default:
		if w := rangeWords(v.Min, v.Max, " characters"); w != "" {
			parts = append(parts, "Text"+w+".")
		}
	}
	if len(v.OneOf) > 0 {
		parts = append(parts, "One of: "+strings.Join(v.OneOf, ", ")+".")
	}
	if v.Regex != "" {
		parts = append(parts, "Must match "+v.Regex+".")
	}
	if !v.Editable() {
		parts = append(parts, "Set by the template.")
	}
	return strings.Join(parts, " ")
}

// rangeWords is " from 1 to 100", " of at least 1", " of at most 100" or
// "", each bound followed by unit.
func rangeWords(lo, hi *int64, unit string) string {
	switch {
	case lo != nil && hi != nil:
		return " from " + strconv.FormatInt(*lo, 10) + " to " + strconv.FormatInt(*hi, 10) + unit
	case lo != nil:
		return " of at least " + strconv.FormatInt(*lo, 10) + unit
	case hi != nil:
		return " of at most " + strconv.FormatInt(*hi, 10) + unit
	}
	return ""
}

// templatesView is the data of the templates page.
type templatesView struct {
	Templates []templateForm
}

// templatesPage lists the templates with their variables, and offers
// import and delete.
func (s *Server) templatesPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	tmpls, err := s.templateForms(r)
	if err != nil {
		return err
	}
	return s.render(w, r, "admin_templates", web.Page{Title: "Templates", Section: "admin", Viewer: v,
		Data: templatesView{Templates: tmpls}})
}
