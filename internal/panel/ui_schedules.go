package panel

import (
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/schedule"
	"github.com/berth-dev/berth/internal/web"
)

// The schedules tab of an instance: its schedules with their next run, in
// the schedule's zone and (by the page's script) the viewer's, their last
// result, and the forms that create and change them through the client
// API.

// scheduleRow is one schedule on the page.
type scheduleRow struct {
	schedule.Schedule
	// NextLocal is the next run on the schedule's own clock; empty when
	// there is none.
	NextLocal string
	// Form edits it.
	Form scheduleForm
}

// scheduleForm is the create form or a schedule's edit form.
type scheduleForm struct {
	// Prefix keeps the form's element ids apart from the other forms'.
	Prefix string
	// API is the form's data-api: "POST <url>" or "PUT <url>".
	API      string
	Submit   string
	Disabled bool
	schedule.Schedule
	Rows []taskRow
}

// taskRow is one task in a form: its form's prefix and its index in the
// list name its fields.
type taskRow struct {
	schedule.Task
	Prefix string
	Index  int
}

// schedulesView is the data of the schedules page.
type schedulesView struct {
	Schedules []scheduleRow
	// Suspended disables every change: a suspended instance can be read.
	Suspended bool
	// New is the create form.
	New scheduleForm
	// Max is how many an instance may have.
	Max int
	// Blank is the row the script copies for "Add task".
	Blank taskRow
}

// schedulesPage lists the instance's schedules and the form that adds one.
func (s *Server) schedulesPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	list, err := s.store.Schedules(r.Context(), iv.Instance.ID)
	if err != nil {
		return err
	}
	base := "/api/client/instances/" + iv.Instance.ID + "/schedules"
	suspended := iv.in.Suspended
	view := schedulesView{Suspended: suspended, Max: maxSchedules,
		Blank: taskRow{Task: schedule.Task{Action: schedule.ActionCommand}, Prefix: "blank"},
		New: scheduleForm{Prefix: "new", API: "POST " + base, Submit: "Create schedule", Disabled: suspended,
			Schedule: schedule.Schedule{Timezone: "UTC", Enabled: true},
			Rows:     []taskRow{{Task: schedule.Task{Action: schedule.ActionCommand}, Prefix: "new"}}}}
	for _, sc := range list {
		row := scheduleRow{Schedule: sc, Form: scheduleForm{Prefix: sc.ID, API: "PUT " + base + "/" + sc.ID,
			Submit: "Save schedule", Disabled: suspended, Schedule: sc}}
		if !sc.NextRunAt.IsZero() {
			if loc, err := time.LoadLocation(sc.Timezone); err == nil {
				row.NextLocal = sc.NextRunAt.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
			}
		}
		for i, t := range sc.Tasks {
			row.Form.Rows = append(row.Form.Rows, taskRow{Task: t, Prefix: sc.ID, Index: i})
		}
		view.Schedules = append(view.Schedules, row)
	}
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "schedules", "Schedules")
}
