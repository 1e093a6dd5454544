package nodeapi

import "time"

// Backup states, as the node reports them. A backup is created in
// BackupCreating and ends in BackupCompleted or BackupFailed; a node that
// restarts marks every backup it was still creating BackupFailed.
const (
	BackupCreating  = "creating"
	BackupCompleted = "completed"
	BackupFailed    = "failed"
)

// Restore states of a backup's last restore, empty when it never ran.
const (
	RestoreRunning   = "running"
	RestoreCompleted = "completed"
	RestoreFailed    = "failed"
)

// BackupRequest is the body of POST /v1/instances/{id}/backups: make the
// backup the panel recorded as ID. Sending the same ID again is safe: the
// node answers that backup's status and starts nothing new.
type BackupRequest struct {
	// ID is the panel's ID for the backup (letters, digits and '-').
	ID string `json:"id"`
	// Before and After are console commands sent to a running instance
	// around the archive (the template's, e.g. "save-off" and "save-on");
	// empty sends nothing, and a stopped instance gets neither.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// BackupStatus is what the node knows of one backup: the answer of
// POST .../backups, GET .../backups/{backupId} and POST .../restore.
type BackupStatus struct {
	ID    string `json:"id"`
	State string `json:"state"`
	// Error says why a backup failed, readably; empty otherwise.
	Error string `json:"error,omitempty"`
	// Bytes is the archive's size, and Written the bytes archived so far
	// while it is being created (its progress).
	Bytes   int64 `json:"bytes"`
	Written int64 `json:"written,omitempty"`
	// SHA256 is the hex SHA-256 of the archive, once completed.
	SHA256      string    `json:"sha256,omitempty"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	// Restore and RestoreError describe the backup's last restore.
	Restore      string `json:"restore,omitempty"`
	RestoreError string `json:"restoreError,omitempty"`
}

// RestoreRequest is the body of POST .../backups/{backupId}/restore. The
// node stops the instance, replaces its folder with the archive's content
// (Truncate empties it first; otherwise the archive is extracted over
// it), and starts it again if it was running. A failed restore leaves the
// folder as it was.
type RestoreRequest struct {
	Truncate bool `json:"truncate"`
}
