package panel

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// The pages of an instance's data and people. Each reads what it shows
// on the server, through the same internals as the client API, and its
// forms and buttons call that API with the session cookie.

// instanceDataPages registers the pages of an instance's data and
// people: files, settings, subusers, schedules, activity and webhooks.
func (s *Server) instanceDataPages(page func(string, http.Handler)) {
	page("GET /instances/{id}/files", s.instancePage("files", access.FilesRead, s.filesPage))
	page("GET /instances/{id}/settings", s.instancePage("settings", access.Settings, s.settingsPage))
	page("GET /instances/{id}/subusers", s.instancePage("subusers", access.Subusers, s.subusersPage))
	page("GET /instances/{id}/schedules", s.instancePage("schedules", access.Schedules, s.schedulesPage))
	page("GET /instances/{id}/activity", s.instancePage("activity", access.ConsoleRead, s.activityPage))
	page("GET /instances/{id}/webhooks", s.instancePage("webhooks", access.Schedules, s.webhooksPage))
}

// renderInstance renders one tab of an instance, titled "what · name".
func (s *Server) renderInstance(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView, name, what string) error {
	return s.render(w, r, name, web.Page{Title: what + " · " + iv.Instance.Name, Section: "instances", Viewer: v, Data: iv})
}

// crumb is one step of the path to a folder or file.
type crumb struct {
	Name string
	// Href is the page of the folder; empty for the last step.
	Href string
}

// fileRow is one entry of a folder's listing.
type fileRow struct {
	nodeapi.FileEntry
	// Path is the entry's path as the API names it.
	Path string
	// Page is where its link goes: the folder's listing or the file's
	// editor.
	Page string
	// Archive marks a file that extract can unpack.
	Archive bool
}

// openedFile is the file the editor shows.
type openedFile struct {
	// Path is the file's path as the API names it.
	Path, Name string
	Content    string
	// Refused says why the file is not shown, when it is not.
	Refused string
}

// filesView is the data of the files page: a folder's listing, or one
// file in the editor.
type filesView struct {
	// Folder is the folder listed, or the file's, as the API names it
	// ("" for the instance's own).
	Folder string
	Crumbs []crumb
	// Entries are the folder's, folders first; nil while a file is open.
	Entries   []fileRow
	Truncated bool
	File      *openedFile
	// Problem says why the folder could not be listed.
	Problem string
	// MaxEdit is the largest file the editor opens.
	MaxEdit int64
}

// archiveSuffixes are the names extract unpacks.
var archiveSuffixes = []string{".tar.gz", ".tgz", ".tar", ".zip"}

// filesPage lists a folder (?path=/a/b) or opens a file (?file=/a/b.txt).
// A path the API would refuse, or a node that cannot be reached, is told
// on the page rather than by an error page, so the way back stays open.
func (s *Server) filesPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	q := r.URL.Query()
	view := filesView{MaxEdit: nodeapi.MaxFileContentBytes}
	base := "/instances/" + iv.Instance.ID + "/files"
	open := q.Get("file")
	p, err := pagePath(q.Get("path"))
	if open != "" {
		p, err = pagePath(open)
	}
	view.Crumbs = crumbsOf(base, p)
	if err == nil && open != "" && p == "" {
		err = fault.InvalidField("file", "names no file")
	}
	if err != nil {
		view.Problem = fault.Message(fileFault(store.Instance{}, err))
		iv.Page = view
		return s.renderInstance(w, r, v, iv, "files", "Files")
	}
	t, c, err := s.instanceAndNode(r, s.clientInstance(access.Action{Need: access.FilesRead}))
	if err == nil && open != "" {
		view.Folder = parentOf(p)
		view.File = s.openFile(r, t.in, c, p)
	} else if err == nil {
		view.Folder = p
		view.Entries, view.Truncated, err = listFolder(r, c, t.in.ID, p, base)
	}
	if err != nil {
		view.Problem = problemOf(fileFault(t.in, err))
	}
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "files", "Files")
}

// pagePath turns a page's path ("/a/b", "a/b", "" or "/") into the API's
// name of it: "a/b", or "" for the instance's folder.
func pagePath(p string) (string, error) {
	clean, err := files.Clean("path", strings.TrimLeft(p, "/"))
	if err != nil || clean == "." {
		return "", err
	}
	return clean, nil
}

// parentOf is the folder holding p, "" for the instance's.
func parentOf(p string) string {
	if dir := path.Dir(p); dir != "." {
		return dir
	}
	return ""
}

// crumbsOf is the way from the instance's folder to p: each folder links
// its listing; the last step, p itself, links nothing.
func crumbsOf(base, p string) []crumb {
	out := []crumb{{Name: "Files", Href: base}}
	if p == "" {
		out[0].Href = ""
		return out
	}
	names := strings.Split(p, "/")
	for i, name := range names {
		c := crumb{Name: name}
		if i < len(names)-1 {
			c.Href = base + "?path=" + url.QueryEscape("/"+strings.Join(names[:i+1], "/"))
		}
		out = append(out, c)
	}
	return out
}

// listFolder lists folder p on the node, folders first, then by name.
func listFolder(r *http.Request, c *nodeapi.Client, id, p, base string) ([]fileRow, bool, error) {
	list, err := c.ListFiles(r.Context(), id, p)
	if err != nil {
		return nil, false, err
	}
	rows := make([]fileRow, len(list.Entries))
	for i, e := range list.Entries {
		full := path.Join(p, e.Name)
		row := fileRow{FileEntry: e, Path: full}
		if e.IsDir {
			row.Page = base + "?path=" + url.QueryEscape("/"+full)
		} else {
			row.Page = base + "?file=" + url.QueryEscape("/"+full)
			row.Archive = slices.ContainsFunc(archiveSuffixes, func(s string) bool { return strings.HasSuffix(strings.ToLower(e.Name), s) })
		}
		rows[i] = row
	}
	slices.SortFunc(rows, func(a, b fileRow) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return rows, list.Truncated, nil
}

// openFile reads file p for the editor. A file over the editor's cap, or
// one that is not text, is refused with the reason; the page offers its
// download instead.
func (s *Server) openFile(r *http.Request, in store.Instance, c *nodeapi.Client, p string) *openedFile {
	f := &openedFile{Path: p, Name: path.Base(p)}
	tooLarge := fmt.Sprintf("This file is larger than %s, too large for the editor. Download it instead.",
		web.FormatBytes(nodeapi.MaxFileContentBytes))
	stream, err := c.FileContent(r.Context(), in.ID, p)
	if err != nil {
		err = fileFault(in, err)
		f.Refused = problemOf(err)
		if fault.Is(err, fault.TooLarge) {
			f.Refused = tooLarge
		}
		return f
	}
	defer stream.Close()
	body, err := io.ReadAll(io.LimitReader(stream.Body, nodeapi.MaxFileContentBytes+1))
	switch {
	case err != nil:
		f.Refused = "The file could not be read from the node. Try again, or download it."
	case len(body) > nodeapi.MaxFileContentBytes:
		f.Refused = tooLarge
	case !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0:
		f.Refused = "This file is not text, so the editor does not open it. Download it instead."
	default:
		f.Content = string(body)
	}
	return f
}

// problemOf is what a page says of a failed call: the fault's message, or
// a plain apology when it carries none (an internal error keeps its
// details to the log).
func problemOf(err error) string {
	if msg := fault.Message(err); msg != "" {
		return msg
	}
	return "The instance's node did not answer as expected. Try again in a moment."
}

// settingVariable is one variable on the settings page.
type settingVariable struct {
	instanceVariableView
	// Label is the variable's name for people, or its environment name.
	Label string
	// Rules is the template's rules in words: "required, 3–16 characters".
	Rules string
	// Choices lists the values of a variable that takes one of a few.
	Choices []string
}

// settingsView is the data of the settings page.
type settingsView struct {
	Name      string
	Variables []settingVariable
	// Template is false for an instance of a bare image, whose variables
	// only an admin's deploy sets.
	Template bool
	// Startup is the start command with each variable's {{NAME}} left in,
	// and Preview the same filled with the current values.
	Startup, Preview string
	Suspended        bool
}

// settingsPage shows the variables under their template's rules, a
// preview of the start command, and the rename form.
func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	in, err := s.store.InstanceByID(r.Context(), iv.Instance.ID)
	if err != nil {
		return err
	}
	tmpl, err := s.instanceTemplate(r, in)
	if err != nil {
		return err
	}
	vars := viewInstanceVariables(tmpl, in)
	view := settingsView{Name: in.Name, Template: tmpl != nil, Startup: vars.Startup,
		Preview: images.Render(vars.Startup, in.Variables), Suspended: in.Suspended}
	for _, vv := range vars.Variables {
		sv := settingVariable{instanceVariableView: vv, Label: vv.Name, Rules: rulesText(vv.Variable), Choices: choicesOf(vv)}
		if sv.Label == "" {
			sv.Label = vv.Env
		}
		view.Variables = append(view.Variables, sv)
	}
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "settings", "Settings")
}

// choicesOf lists the values a select offers for v: its OneOf, or true
// and false for a bool; with the current value first among them when the
// rules would not allow it now. Nil means free text.
func choicesOf(v instanceVariableView) []string {
	choices := v.OneOf
	if len(choices) == 0 && v.Type == images.TypeBool {
		choices = []string{"true", "false"}
	}
	if len(choices) == 0 {
		return nil
	}
	if !slices.Contains(choices, v.Value) {
		choices = append([]string{v.Value}, choices...)
	}
	return choices
}

// rulesText writes a variable's rules as a hint: "required, a whole
// number from 1 to 100". The server checks them; the hint only tells.
func rulesText(v images.Variable) string {
	var parts []string
	if v.Required {
		parts = append(parts, "required")
	}
	numeric := v.Type == images.TypeInt || v.Type == images.TypeNumber
	switch v.Type {
	case images.TypeInt:
		parts = append(parts, "a whole number")
	case images.TypeNumber:
		parts = append(parts, "a number")
	case images.TypeBool:
		parts = append(parts, "true or false")
	}
	unit := " characters"
	if numeric {
		unit = ""
	}
	switch {
	case v.Min != nil && v.Max != nil && numeric:
		parts = append(parts, fmt.Sprintf("from %d to %d", *v.Min, *v.Max))
	case v.Min != nil && v.Max != nil:
		parts = append(parts, fmt.Sprintf("%d–%d characters", *v.Min, *v.Max))
	case v.Min != nil:
		parts = append(parts, fmt.Sprintf("at least %d%s", *v.Min, unit))
	case v.Max != nil:
		parts = append(parts, fmt.Sprintf("at most %d%s", *v.Max, unit))
	}
	if len(v.OneOf) > 0 {
		parts = append(parts, "one of "+strings.Join(v.OneOf, ", "))
	}
	if v.Regex != "" {
		parts = append(parts, "matching "+v.Regex)
	}
	return strings.Join(parts, ", ")
}

// permissionChoice is one permission a subuser may be given.
type permissionChoice struct {
	Name access.Permission
	// Help says in one line what it allows.
	Help string
	// Grantable is set when the viewer holds it, and so may grant it.
	Grantable bool
}

// permissionHelp explains each permission of access.All.
var permissionHelp = map[access.Permission]string{
	access.ConsoleRead:  "See the console, logs, usage and activity",
	access.ConsoleWrite: "Type commands on the console",
	access.Power:        "Start, stop, restart and kill",
	access.FilesRead:    "List, open and download files",
	access.FilesWrite:   "Edit, upload, rename, delete and archive files",
	access.SFTP:         "Sign in over SFTP",
	access.Backups:      "Create, restore and delete backups",
	access.Schedules:    "Manage schedules",
	access.Settings:     "Change variables and the name",
	access.Subusers:     "Add, change and remove subusers",
}

// subuserRow is one subuser on the subusers page.
type subuserRow struct {
	store.Subuser
	// Holds marks each permission of access.All the subuser holds.
	Holds map[access.Permission]bool
}

// subusersView is the data of the subusers page.
type subusersView struct {
	Subusers    []subuserRow
	Permissions []permissionChoice
}

// subusersPage lists the subusers, each with its permissions to edit, and
// the form that adds one.
func (s *Server) subusersPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	list, err := s.store.Subusers(r.Context(), iv.Instance.ID)
	if err != nil {
		return err
	}
	view := subusersView{Permissions: make([]permissionChoice, len(access.All))}
	for i, p := range access.All {
		view.Permissions[i] = permissionChoice{Name: p, Help: permissionHelp[p], Grantable: slices.Contains(iv.Held, p)}
	}
	for _, sub := range list {
		row := subuserRow{Subuser: sub, Holds: map[access.Permission]bool{}}
		for _, p := range sub.Permissions {
			row.Holds[p] = true
		}
		view.Subusers = append(view.Subusers, row)
	}
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "subusers", "Subusers")
}

// activityRow is one entry of the activity page.
type activityRow struct {
	Action, Target, Detail string
	// Actor says who: a username, or what kind of credential.
	Actor string
	At    time.Time
}

// activityPageView is the data of the activity page.
type activityPageView struct {
	Entries []activityRow
	// Older is the page of the entries before these; empty on the last.
	Older string
	// Newest is set when the page is not the first.
	Newest string
}

// activityPage shows a page of the instance's activity, newest first,
// with the cursor of GET .../activity for the older ones (?after=).
func (s *Server) activityPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	f, err := readActivityFilter(r, false)
	if err != nil {
		return err
	}
	f.InstanceID = iv.Instance.ID
	list, err := s.store.AuditPage(r.Context(), f)
	if err != nil {
		return err
	}
	view := activityPageView{Entries: make([]activityRow, len(list))}
	for i, e := range list {
		view.Entries[i] = activityRow{Action: e.Action, Target: e.Target, Detail: e.Detail, Actor: actorName(e), At: e.At}
	}
	// The other pages keep the query's filters.
	q := r.URL.Query()
	at := func(after string) string {
		q.Del("after")
		if after != "" {
			q.Set("after", after)
		}
		return "/instances/" + iv.Instance.ID + "/activity?" + q.Encode()
	}
	if len(list) == f.Limit {
		view.Older = at(activityCursor(list[len(list)-1]))
	}
	if r.URL.Query().Has("after") {
		view.Newest = at("")
	}
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "activity", "Activity")
}

// actorName says who made a change, for people.
func actorName(e store.AuditEntry) string {
	switch {
	case e.ActorKind == "key":
		return "an admin API key"
	case e.ActorKind == scheduleActorKind:
		// The detail names it: "schedule <name>: ...".
		return "a schedule"
	case e.Username == "":
		return "a deleted user"
	case e.ActorKind == "token":
		return e.Username + " (token)"
	case e.ActorKind == access.SFTPSession.String():
		return e.Username + " (SFTP)"
	}
	return e.Username
}
