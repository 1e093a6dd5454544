package panel

import (
	"net/http"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// backupsPageView is the data of an instance's backups page.
type backupsPageView struct {
	Backups []store.Backup
	// Held is how many backups count against the limit (creating and
	// completed ones), and Limit the instance's backupLimit.
	Held, Limit int
	// Full is set when no backup can be made until one is deleted.
	Full bool
	// Busy is set while a backup is being created or restored: the page's
	// script then polls until it is done.
	Busy bool
	// Suspended instances' backups can be read and downloaded, not
	// changed.
	Suspended bool
}

// backupsPage lists an instance's backups with what may be done to each,
// the limit, and the form that makes one.
func (s *Server) backupsPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	list, err := s.store.Backups(r.Context(), iv.in.ID)
	if err != nil {
		return err
	}
	view := backupsPageView{Backups: list, Limit: iv.in.BackupLimit, Suspended: iv.in.Suspended}
	for _, b := range list {
		if b.State != nodeapi.BackupFailed {
			view.Held++
		}
		if b.State == nodeapi.BackupCreating || b.Restore == nodeapi.RestoreRunning {
			view.Busy = true
		}
	}
	view.Full = view.Held >= view.Limit
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "backups", "Backups")
}

// backupPages registers the backups page of an instance.
func (s *Server) backupPages(page func(string, http.Handler)) {
	page("GET /instances/{id}/backups", s.instancePage("backups", access.Backups, s.backupsPage))
}
