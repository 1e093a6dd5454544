package files

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"path"
)

// UploadLimits caps one upload.
type UploadLimits struct {
	// MaxFileBytes caps each file; 0 means no cap.
	MaxFileBytes int64
	// MaxTotalBytes caps all the files of one upload together; 0 means
	// no cap.
	MaxTotalBytes int64
}

// Upload writes every file part of mr into the folder at dir (sent in
// field "path"), which must exist. A part's file name may hold
// subfolders, which are created; it is checked as a path like any other,
// never cut down to its last element, so "../x" is refused rather than
// quietly renamed. Parts without a file name are ignored. Each file is
// written atomically and counted against the disk limit as it arrives;
// the files written before a failure stay.
func (f *Folder) Upload(dir string, mr *multipart.Reader, lim UploadLimits) ([]Entry, error) {
	base, err := Clean("path", dir)
	if err != nil {
		return nil, err
	}
	info, err := f.root.Stat(base)
	if err != nil {
		return nil, fsError("path", base, err)
	}
	if !info.IsDir() {
		return nil, newError(Invalid, "path", "%q is not a folder", base)
	}
	var written []Entry
	var total int64
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return written, &Error{Kind: Invalid, Field: "body", Msg: "is not a readable multipart form", Err: err}
		}
		filename, ok, err := partFileName(part)
		if err != nil {
			part.Close()
			return written, err
		}
		if !ok {
			part.Close()
			continue
		}
		rel, err := Clean("filename", filename)
		if err != nil {
			part.Close()
			return written, err
		}
		if rel == "." {
			part.Close()
			return written, newError(Invalid, "filename", "must name a file")
		}
		name := path.Join(base, rel)
		if len(name) > MaxPathBytes {
			part.Close()
			return written, newError(Invalid, "filename", "makes a path longer than %d bytes", MaxPathBytes)
		}
		if err := f.checkDenied("filename", name, false); err != nil {
			part.Close()
			return written, err
		}
		if err := f.mkdirAll("filename", path.Dir(name)); err != nil {
			part.Close()
			return written, err
		}
		max, capMsg := noCap, "per-file"
		if lim.MaxFileBytes > 0 {
			max = lim.MaxFileBytes
		}
		if rest := lim.MaxTotalBytes - total; lim.MaxTotalBytes > 0 && (max == noCap || rest < max) {
			max, capMsg = rest, "total"
		}
		e, err := f.writeFile("filename", name, part, -1, max, 0)
		part.Close()
		if err != nil {
			if KindOf(err) == TooLarge {
				return written, newError(TooLarge, "filename", "%q passes the upload's %s cap", name, capMsg)
			}
			return written, err
		}
		e.Name = name
		total += e.Size
		written = append(written, e)
	}
	return written, nil
}

// partFileName is the raw filename parameter of a part, unlike
// Part.FileName, which keeps only its last element. ok is false for a
// part that is no file.
func partFileName(p *multipart.Part) (name string, ok bool, err error) {
	cd := p.Header.Get("Content-Disposition")
	if cd == "" {
		return "", false, nil
	}
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		return "", false, &Error{Kind: Invalid, Field: "filename", Msg: "a part's Content-Disposition cannot be read", Err: err}
	}
	name, ok = params["filename"]
	return name, ok && name != "", nil
}
