package panel

import (
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/web"
)

// The viewer's own account: profile, password and two-factor at /account,
// then sessions, personal access tokens and SSH keys, each a tab. The
// pages hold no secret: a new two-factor secret, the recovery codes and a
// new token come from the API's answers, once, into the page's script.

// accountPath is the account's first page, where an admin who must set up
// two-factor is sent.
const accountPath = "/account"

// accountPages registers the pages of the viewer's own account.
func (s *Server) accountPages(page func(string, http.Handler)) {
	page("GET "+accountPath, s.page("account", s.accountPage))
	page("GET /account/sessions", s.page("account", s.sessionsPage))
	page("GET /account/tokens", s.page("account", s.tokensPage))
	page("GET /account/ssh-keys", s.page("account", s.sshKeysPage))
}

// accountPageView is the data of /account.
type accountPageView struct {
	TwoFactor bool
	// MustSetUp is set for an admin without two-factor under
	// -require-2fa-admins: setting it up is all the admin may do.
	MustSetUp bool
	// MinPassword is the shortest new password the API accepts.
	MinPassword int
}

// accountPage shows the profile, the password form and two-factor.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	on, err := s.twoFactorOn(r, v.ID)
	if err != nil {
		return err
	}
	return s.render(w, r, "account", web.Page{Title: "Your account", Section: "account", Viewer: v,
		Data: accountPageView{TwoFactor: on, MustSetUp: s.mustSetUpTwoFactor(v.Admin, on), MinPassword: minPassword}})
}

// mustSetUpTwoFactor reports whether a user may do nothing but set up
// two-factor: an admin without it, under -require-2fa-admins.
func (s *Server) mustSetUpTwoFactor(admin, twoFactor bool) bool {
	return s.cfg.Require2FAAdmins && admin && !twoFactor
}

// sessionRow is one session on the sessions page.
type sessionRow struct {
	ID string
	// Device names the browser and system, read from the user agent.
	Device, UserAgent, Address string
	CreatedAt, LastSeenAt      time.Time
	Current                    bool
}

// sessionsPage lists the viewer's live sessions, the current one marked.
func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.ListSessions(r.Context(), v.ID)
	if err != nil {
		return err
	}
	now, current := s.now(), callerSessionID(r)
	rows := []sessionRow{}
	for _, se := range list {
		if s.sessionLive(se.LastSeenAt, se.ExpiresAt, now) {
			rows = append(rows, sessionRow{ID: se.ID, Device: describeAgent(se.UserAgent), UserAgent: se.UserAgent,
				Address: se.Address, CreatedAt: se.CreatedAt, LastSeenAt: se.LastSeenAt, Current: se.ID == current})
		}
	}
	return s.render(w, r, "account-sessions", web.Page{Title: "Sessions", Section: "account", Viewer: v, Data: rows})
}

// tokenRow is one personal access token on the tokens page.
type tokenRow struct {
	tokenView
	Expired bool
}

// tokensPage lists the viewer's personal access tokens, never the tokens
// themselves, and offers to create one.
func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.ListAccessTokens(r.Context(), v.ID)
	if err != nil {
		return err
	}
	now := s.now()
	rows := make([]tokenRow, len(list))
	for i, t := range list {
		rows[i] = tokenRow{tokenView: viewToken(t), Expired: !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)}
	}
	return s.render(w, r, "account-tokens", web.Page{Title: "Access tokens", Section: "account", Viewer: v, Data: rows})
}

// sshKeysPage lists the viewer's SSH keys and offers to add one.
func (s *Server) sshKeysPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.ListSSHKeys(r.Context(), v.ID)
	if err != nil {
		return err
	}
	rows := make([]sshKeyView, len(list))
	for i, k := range list {
		rows[i] = viewSSHKey(k)
	}
	return s.render(w, r, "account-ssh-keys", web.Page{Title: "SSH keys", Section: "account", Viewer: v, Data: rows})
}

// agentNames are the browsers and systems a user agent is named by, each
// with the word that gives it away, most specific first: Edge's and
// Opera's agents also say Chrome, Chrome's also says Safari.
var (
	browserNames = [][2]string{{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}}
	systemNames = [][2]string{{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"}}
)

// describeAgent names the browser and system of a user agent, such as
// "Firefox on Linux", for a person to recognise a session by; an agent it
// cannot read is "Unknown device".
func describeAgent(ua string) string {
	find := func(names [][2]string) string {
		for _, n := range names {
			if strings.Contains(ua, n[0]) {
				return n[1]
			}
		}
		return ""
	}
	browser, system := find(browserNames), find(systemNames)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	return "Unknown device"
}
