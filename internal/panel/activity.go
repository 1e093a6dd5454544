package panel

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// The activity log: every change by a user, a token or an admin key,
// paged newest first. Admins read all of it at GET /api/audit; an
// instance's users read its own at GET /api/client/instances/{id}/activity.
// Both take ?action= (an action or a dotted prefix of one), ?actor= (a
// user id or a credential id), ?since= and ?until= (RFC 3339), ?limit=
// (1 to maxActivityPage) and ?after= (the "next" of the previous page,
// also named in a Link header as the other lists do);
// the admin's also ?instance= and ?target= (what was changed).

// Page sizes of the activity log.
const (
	defaultActivityPage = 50
	maxActivityPage     = maxListPage
)

// actorView is who made a change.
type actorView struct {
	// Kind is "key", "session", "token" or "sftp", or "schedule" for what
	// a schedule did (its id is then credentialId).
	Kind         string `json:"kind"`
	CredentialID string `json:"credentialId,omitempty"`
	UserID       string `json:"userId,omitempty"`
	Username     string `json:"username,omitempty"`
}

// activityView is one entry of the activity log.
type activityView struct {
	ID       string    `json:"id"`
	Action   string    `json:"action"`
	Instance string    `json:"instance,omitempty"`
	Target   string    `json:"target"`
	Detail   string    `json:"detail,omitempty"`
	Actor    actorView `json:"actor"`
	IP       string    `json:"ip"`
	At       time.Time `json:"at"`
}

// activityPage is a page of the log and the cursor of the next, null on
// the last.
type activityPage struct {
	Data []activityView `json:"data"`
	Next *string        `json:"next"`
}

// listAudit answers a page of the whole activity log, to admins.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := readActivityFilter(r, true)
	if err != nil {
		return err
	}
	return s.writeActivity(w, r, f, true)
}

// instanceActivity answers a page of an instance's activity. The
// credential ids of the actors stay with the admins.
func (s *Server) instanceActivity(fr instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := readActivityFilter(r, false)
		if err != nil {
			return err
		}
		t, err := fr(r)
		if err != nil {
			return err
		}
		f.InstanceID = t.in.ID
		return s.writeActivity(w, r, f, false)
	}
}

func (s *Server) writeActivity(w http.ResponseWriter, r *http.Request, f store.AuditFilter, credentials bool) error {
	// One entry beyond the page tells whether another follows, so the
	// last page names no next one.
	limit := f.Limit
	f.Limit++
	list, err := s.store.AuditPage(r.Context(), f)
	if err != nil {
		return err
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	page := activityPage{Data: make([]activityView, len(list))}
	for i, e := range list {
		v := activityView{ID: e.ID, Action: e.Action, Instance: e.InstanceID, Target: e.Target, Detail: e.Detail,
			Actor: actorView{Kind: e.ActorKind, UserID: e.UserID, Username: e.Username}, IP: e.IP, At: e.At}
		// A schedule's id is no credential: everyone who reads the log
		// may see which schedule acted.
		if credentials || e.ActorKind == scheduleActorKind {
			v.Actor.CredentialID = e.CredentialID
		}
		page.Data[i] = v
	}
	if more {
		next := activityCursor(list[len(list)-1])
		page.Next = &next
		// The same next page, named as the other lists name theirs, for
		// clients that follow Link headers. The query parsed when f was
		// read.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		setNextLink(w, r, q, limit, next)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// activityCursor is the ?after= of the page that follows entry e.
func activityCursor(e store.AuditEntry) string {
	return strconv.FormatInt(e.At.UnixMilli(), 10) + "." + e.ID
}

// readActivityFilter reads the query of an activity page; byInstance
// allows ?instance= and ?target=, the admin's filters.
func readActivityFilter(r *http.Request, byInstance bool) (store.AuditFilter, error) {
	f := store.AuditFilter{Limit: defaultActivityPage}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return f, fault.InvalidField("query", "is malformed")
	}
	text := func(name string) (string, error) {
		v := q.Get(name)
		if len(v) > 255 || strings.ContainsFunc(v, func(c rune) bool { return c < ' ' || c == 0x7f }) {
			return "", fault.InvalidField(name, "must be at most 255 bytes of printable text")
		}
		return v, nil
	}
	if f.Action, err = text("action"); err != nil {
		return f, err
	}
	if f.Actor, err = text("actor"); err != nil {
		return f, err
	}
	if byInstance {
		if f.InstanceID, err = text("instance"); err != nil {
			return f, err
		}
		if f.Target, err = text("target"); err != nil {
			return f, err
		}
	}
	for _, b := range []struct {
		name string
		at   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(b.name); v != "" {
			if *b.at, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return f, fault.InvalidField(b.name, "must be a time in RFC 3339, such as 2025-03-01T12:00:00Z")
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxActivityPage {
			return f, fault.InvalidField("limit", "must be a whole number from 1 to %d", maxActivityPage)
		}
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		ms, id, ok := strings.Cut(v, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
			return f, fault.InvalidField("after", "must be the next of a previous page")
		}
		f.AfterAt, f.AfterID = time.UnixMilli(n), id
	}
	return f, nil
}
