package panel

import "net/http"

// backupRouteDocs documents the backup routes (DESIGN §11) of the admin
// API and the client API, and the admin's PATCH of an instance.
func backupRouteDocs(nodeErrors []int, binary media) []routeDoc {
	const (
		ok        = http.StatusOK
		accepted  = http.StatusAccepted
		noContent = http.StatusNoContent
		notFound  = http.StatusNotFound
	)
	see := []int{notFound}
	change := []int{notFound, http.StatusConflict}
	download := map[int]any{ok: binary, http.StatusPartialContent: binary, http.StatusRequestedRangeNotSatisfiable: binary}
	const (
		createDoc  = "Start a backup of the instance's folder; 409 past its backupLimit (creating and completed backups count, failed ones do not)"
		restoreDoc = "Restore a completed backup: the node stops the instance, replaces its files (truncate: empties the folder first) and starts it again if it was running; a failed restore leaves the files as they were"
		deleteDoc  = "Delete a backup and its archive; 409 while locked or being created. Deleting the instance deletes all of its backups, locked ones too"
	)
	docs := []routeDoc{
		{pattern: "PATCH /api/instances/{id}", summary: "Change an instance's backupLimit; a lower one deletes no backup", auth: admin,
			body: instanceChangeBody{}, answers: map[int]any{ok: instanceView{}}, errors: see},
	}
	for _, a := range []struct {
		list, one string
		auth      audience
		suffix    string
	}{
		{"/api/instances/backups/{id}", "/api/instances/backups/{id}/{backupId}", admin, ""},
		{"/api/client/instances/{id}/backups", "/api/client/instances/{id}/backups/{backupId}", user, " (backups)"},
	} {
		docs = append(docs,
			routeDoc{pattern: "GET " + a.list, summary: "The instance's backups, newest first" + a.suffix, auth: a.auth,
				answers: map[int]any{ok: []backupView{}}, errors: see, paged: true},
			routeDoc{pattern: "POST " + a.list, summary: createDoc + a.suffix, auth: a.auth,
				body: backupNameBody{}, answers: map[int]any{accepted: backupView{}}, errors: nodeErrors},
			routeDoc{pattern: "GET " + a.one, summary: "One backup" + a.suffix, auth: a.auth,
				answers: map[int]any{ok: backupView{}}, errors: see},
			routeDoc{pattern: "DELETE " + a.one, summary: deleteDoc + a.suffix, auth: a.auth,
				answers: map[int]any{noContent: nil}, errors: nodeErrors},
			routeDoc{pattern: "GET " + a.one + "/download", summary: "Download a completed backup's archive (.tar.gz); ranges are honoured" + a.suffix,
				auth: a.auth, answers: download, errors: nodeErrors},
			routeDoc{pattern: "POST " + a.one + "/restore", summary: restoreDoc + a.suffix, auth: a.auth,
				body: restoreBody{}, answers: map[int]any{accepted: backupView{}}, errors: nodeErrors},
			routeDoc{pattern: "POST " + a.one + "/lock", summary: "Lock a backup: it cannot be deleted until unlocked" + a.suffix, auth: a.auth,
				answers: map[int]any{ok: backupView{}}, errors: change},
			routeDoc{pattern: "POST " + a.one + "/unlock", summary: "Unlock a backup" + a.suffix, auth: a.auth,
				answers: map[int]any{ok: backupView{}}, errors: change},
		)
	}
	return docs
}

// The request bodies of the backup routes.
type (
	backupNameBody struct {
		Name string `json:"name,omitempty" doc:"up to 100 bytes; the time of the backup when absent"`
	}
	restoreBody struct {
		Truncate bool `json:"truncate,omitempty" doc:"empty the instance's folder before extracting"`
	}
	instanceChangeBody struct {
		BackupLimit int `json:"backupLimit" doc:"how many backups the instance may hold, 0 to 1000; 0 allows none"`
	}
)
