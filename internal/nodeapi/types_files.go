package nodeapi

import "time"

// MaxFileContentBytes caps the files read and written whole through
// .../files/content; larger ones go through download and upload.
const MaxFileContentBytes = 8 << 20

// FileEntry describes one file or folder of an instance's data folder.
type FileEntry struct {
	// Name is the entry's name in its folder.
	Name string `json:"name"`
	// Path is its path in the instance's folder, in answers about one
	// file (a write, an upload, a compress); empty in a listing.
	Path string `json:"path,omitempty"`
	// Size is in bytes; a symbolic link's is the length of its target.
	Size int64 `json:"size"`
	// Mode is the type and permissions as ls writes them: "-rw-r--r--".
	Mode    string    `json:"mode"`
	ModTime time.Time `json:"modTime"`
	IsDir   bool      `json:"isDir"`
	// IsSymlink is set for a symbolic link, which is never followed out
	// of the folder.
	IsSymlink bool `json:"isSymlink"`
}

// FileList is the answer of GET .../files?path=.
type FileList struct {
	// Path is the folder listed, cleaned: "." is the instance's folder.
	Path    string      `json:"path"`
	Entries []FileEntry `json:"entries"`
	// Truncated is set when the folder held more entries than a listing
	// returns.
	Truncated bool `json:"truncated,omitempty"`
}

// PathRequest is the body of POST .../files/mkdir.
type PathRequest struct {
	Path string `json:"path"`
}

// RenameRequest is the body of POST .../files/rename.
type RenameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// DeleteRequest is the body of POST .../files/delete.
type DeleteRequest struct {
	Paths []string `json:"paths"`
}

// DeleteResult is the answer of POST .../files/delete.
type DeleteResult struct {
	Deleted []string `json:"deleted"`
}

// CompressRequest is the body of POST .../files/compress: the paths go
// into a new .tar.gz (or .tgz) file at Destination.
type CompressRequest struct {
	Paths       []string `json:"paths"`
	Destination string   `json:"destination"`
}

// ExtractRequest is the body of POST .../files/extract: the .tar.gz,
// .tgz, .tar or .zip file at Path is unpacked into the folder Destination.
type ExtractRequest struct {
	Path        string `json:"path"`
	Destination string `json:"destination"`
}

// ExtractResult is the answer of POST .../files/extract.
type ExtractResult struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// UploadResult is the answer of POST .../files/upload.
type UploadResult struct {
	Files []FileEntry `json:"files"`
}

// DiskUsage is the answer of GET /v1/instances/{id}/disk.
type DiskUsage struct {
	// UsedBytes is what the instance's data folder holds, as last
	// measured and adjusted since by the writes of the file API.
	UsedBytes int64 `json:"usedBytes"`
	// LimitBytes is the instance's disk limit; 0 means unlimited.
	LimitBytes int64 `json:"limitBytes"`
}
