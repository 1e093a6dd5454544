package nodeapi

import (
	"context"
	"net/http"
	"net/url"
)

// backupsSuffix is the path, under an instance, of one of its backups, or
// of the list when backupID is empty. The backup ID is checked as an
// instance ID is.
func backupsSuffix(backupID, suffix string) (string, error) {
	if backupID == "" {
		return "/backups", nil
	}
	if err := ValidateInstanceID(backupID); err != nil {
		return "", &FieldError{"backupId", err.(*FieldError).Rule}
	}
	return "/backups/" + url.PathEscape(backupID) + suffix, nil
}

// backupCall sends one request about a backup of instance id.
func backupCall(ctx context.Context, c *Client, method, id, backupID, suffix string, in any) (BackupStatus, error) {
	s, err := backupsSuffix(backupID, suffix)
	if err != nil {
		return BackupStatus{}, err
	}
	return callInstance[BackupStatus](ctx, c, readTimeout, method, id, s, in)
}

// CreateBackup asks the node to archive the instance's folder as backup
// req.ID. It answers at once; GetBackup follows the work.
func (c *Client) CreateBackup(ctx context.Context, id string, req BackupRequest) (BackupStatus, error) {
	if _, err := backupsSuffix(req.ID, ""); err != nil {
		return BackupStatus{}, err
	}
	return backupCall(ctx, c, http.MethodPost, id, "", "", req)
}

// GetBackup reports one backup; a backup the node does not know is a
// NotExist error (IsNotFound).
func (c *Client) GetBackup(ctx context.Context, id, backupID string) (BackupStatus, error) {
	return backupCall(ctx, c, http.MethodGet, id, backupID, "", nil)
}

// RestoreBackup starts restoring a completed backup over the instance's
// folder. It answers at once; GetBackup's Restore follows the work.
func (c *Client) RestoreBackup(ctx context.Context, id, backupID string, req RestoreRequest) (BackupStatus, error) {
	return backupCall(ctx, c, http.MethodPost, id, backupID, "/restore", req)
}

// DeleteBackup removes a backup's archive (the node answers 204); one
// already gone is no error.
func (c *Client) DeleteBackup(ctx context.Context, id, backupID string) error {
	s, err := backupsSuffix(backupID, "")
	if err != nil {
		return err
	}
	p, err := instancePath(id, s)
	if err != nil {
		return err
	}
	return c.call(ctx, removeTimeout, http.MethodDelete, p, nil, nil)
}

// DownloadBackup streams a completed backup's archive. header may carry
// Range and If-Range, which the node honours.
func (c *Client) DownloadBackup(ctx context.Context, id, backupID string, header http.Header) (*FileStream, error) {
	s, err := backupsSuffix(backupID, "/download")
	if err != nil {
		return nil, err
	}
	p, err := instancePath(id, s)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, http.MethodGet, p, header, nil, -1, true)
}
