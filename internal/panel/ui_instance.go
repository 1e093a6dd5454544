package panel

import (
	"net/http"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// instancePageView is what every page of one instance is rendered with:
// the instance, what the viewer holds on it, the current tab, and the
// tab's own data.
type instancePageView struct {
	Instance instanceCard
	// State is the instance's full view (status, exit code, errors).
	State instanceView
	Held  []access.Permission
	Tab   string
	// Page is the tab's own data.
	Page any
	// Notices are what the template's features say on this page (the
	// overview and the console fill them).
	Notices []featureNotice
	// in is the instance as stored, for the pages that read more of it.
	in store.Instance
}

// Can reports whether the viewer holds permission p, for templates:
// {{if .Data.Can "power"}}.
func (v instancePageView) Can(p string) bool {
	return slices.Contains(v.Held, access.Permission(p))
}

// instancePageHandler renders one tab of an instance's pages.
type instancePageHandler func(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error

// instancePage serves h for the instance named by the path's {id}, to a
// viewer allowed to take need on it (any business with it when need is
// empty): the authorizer decides, as it does for the client API, and a
// stranger gets the 404 page whether the instance exists or not.
func (s *Server) instancePage(tab string, need access.Permission, h instancePageHandler) http.Handler {
	front := s.clientInstance(access.Action{Need: need})
	return s.page("instances", func(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
		t, err := front(r)
		if err != nil {
			return err
		}
		p := callerOf(r)
		shared := t.in.UserID != v.ID && !p.IsAdmin()
		iv := instancePageView{Instance: viewCard(t.in, shared, slices.Contains(t.held, access.ConsoleRead)),
			State: viewInstance(t.in), Held: t.held, Tab: tab, in: t.in}
		return h(w, r, v, iv)
	})
}

// instancePages registers the pages of one instance: its overview, which
// anyone with business on it may open, and its console.
func (s *Server) instancePages(page func(string, http.Handler)) {
	page("GET /instances/{id}", s.instancePage("overview", access.View.Need, s.overviewPage))
	page("GET /instances/{id}/console", s.instancePage("console", access.ConsoleRead, s.consolePage))
}

// powerButton is one of the overview's power buttons, always shown.
type powerButton struct {
	Action, Label string
	// When lists, space-separated, the power statuses the action is
	// offered in; the page's script keeps Enabled in step with it.
	When    string
	Enabled bool
}

// powerActions are the overview's buttons and the statuses that offer
// them, after the node's state machine (DESIGN §4): a start from any
// state at rest, a stop or a restart of a process that is up, and a kill
// of one that is up or will not stop.
var powerActions = []powerButton{
	{Action: nodeapi.ActionStart, Label: "Start", When: "stopped crashed offline"},
	{Action: nodeapi.ActionRestart, Label: "Restart", When: "running"},
	{Action: nodeapi.ActionStop, Label: "Stop", When: "starting running"},
	{Action: nodeapi.ActionKill, Label: "Kill", When: "starting running stopping"},
}

// overviewView is the overview's own data.
type overviewView struct {
	Buttons []powerButton
	// Blocked says why no power action can be taken now, whatever the
	// status; "" when the status alone decides.
	Blocked string
	// Live is set when the viewer may read the console (console.read),
	// whose stats events draw the charts.
	Live bool
	// Installing and Failed are the install's state.
	Installing, Failed bool
	// StateClass and NodeClass name the badges of the install's state and
	// of the node's status (state-<class>).
	StateClass, NodeClass string
	// SFTP is how the viewer reaches the files over SFTP; nil without
	// the sftp permission, or while the node serves none.
	SFTP *sftpAccess
}

// sftpAccess is where and as whom a user signs in to an instance's SFTP.
type sftpAccess struct {
	Host string
	Port int
	// User is "<username>.<instanceId>".
	User string
}

// sftpAccessOf is the viewer's SFTP access to the instance, or nil.
func (s *Server) sftpAccessOf(r *http.Request, v *web.Viewer, iv instancePageView) (*sftpAccess, error) {
	if !iv.Can(string(access.SFTP)) {
		return nil, nil
	}
	n, err := s.store.NodeByID(r.Context(), iv.in.NodeID)
	if err != nil || n.SFTPPort == 0 {
		return nil, err
	}
	return &sftpAccess{Host: n.Address, Port: n.SFTPPort, User: v.Username + "." + iv.in.ID}, nil
}

// overviewPage renders an instance's overview.
func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	notices, err := s.featureNotices(r, iv, false)
	if err != nil {
		return err
	}
	iv.Notices = notices
	sftpAccess, err := s.sftpAccessOf(r, v, iv)
	if err != nil {
		return err
	}
	blocked := powerBlocked(iv)
	buttons := make([]powerButton, len(powerActions))
	for i, b := range powerActions {
		b.Enabled = blocked == "" && slices.Contains(strings.Fields(b.When), iv.State.Status)
		buttons[i] = b
	}
	iv.Page = overviewView{Buttons: buttons, Blocked: blocked, Live: iv.Can(string(access.ConsoleRead)),
		Installing: iv.State.InternalState == store.StateInstalling, Failed: iv.State.InternalState == store.StateFailed,
		StateClass: strings.ToLower(iv.State.InternalState), NodeClass: strings.ToLower(iv.State.Node.Status),
		SFTP: sftpAccess}
	return s.render(w, r, "instance", web.Page{Title: iv.Instance.Name, Section: "instances", Viewer: v, Data: iv})
}

// powerBlocked says why the viewer can take no power action on the
// instance now, or "" when its status alone decides.
func powerBlocked(iv instancePageView) string {
	st := iv.State
	switch {
	case !iv.Can(string(access.Power)):
		return "You may not start or stop this server: that takes the power permission."
	case st.Suspended:
		return "This instance is suspended: it can be looked at, not started."
	case st.InternalState == store.StateInstalling:
		return "The server is being installed; it can be started once that is done."
	case st.InternalState == store.StateFailed:
		return "The install failed, so the server cannot be started."
	case st.InternalState != store.StateReady:
		return "The server is not ready yet."
	case st.Node.Status == store.NodeOffline:
		return "Its node is offline: power actions wait until it is back."
	}
	return ""
}

// consolePage renders an instance's console.
func (s *Server) consolePage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	notices, err := s.featureNotices(r, iv, true)
	if err != nil {
		return err
	}
	iv.Notices = notices
	return s.render(w, r, "console", web.Page{Title: iv.Instance.Name + " · Console", Section: "instances", Viewer: v, Data: iv})
}
