package files

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"
)

// ExtractLimits caps one extraction.
type ExtractLimits struct {
	// MaxBytes caps the total uncompressed size of the files extracted;
	// 0 means no cap (the disk limit still applies).
	MaxBytes int64
	// MaxEntries caps the number of entries; 0 means no cap.
	MaxEntries int
}

// Compress writes the files and folders at paths (sent in field "paths")
// into a new gzip-compressed tar file at destination, which must end in
// .tar.gz or .tgz and must not exist yet. Entries are named by their path
// in the instance's folder. Symbolic links are stored as links, never
// followed; FIFOs and device nodes are left out. The archive is written to
// a temporary file, counted against the disk limit as it grows, and
// renamed into place once complete.
func (f *Folder) Compress(paths []string, destination string) (Entry, error) {
	dst, err := Clean("destination", destination)
	if err != nil {
		return Entry{}, err
	}
	if !strings.HasSuffix(dst, ".tar.gz") && !strings.HasSuffix(dst, ".tgz") {
		return Entry{}, newError(Invalid, "destination", "must end in .tar.gz or .tgz")
	}
	if err := f.checkDenied("destination", dst, false); err != nil {
		return Entry{}, err
	}
	if _, err := f.root.Lstat(dst); err == nil {
		return Entry{}, newError(Exist, "destination", "%q already exists", dst)
	}
	if len(paths) == 0 {
		return Entry{}, newError(Invalid, "paths", "at least one path is required")
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		name, err := Clean("paths", p)
		if err != nil {
			return Entry{}, err
		}
		if _, err := f.root.Lstat(name); err != nil {
			return Entry{}, fsError("paths", name, err)
		}
		if err := f.checkDeniedTree("paths", name); err != nil {
			return Entry{}, err
		}
		names[i] = name
	}

	cw := &countingWriter{usage: f.usage, field: "destination", name: dst, max: noCap}
	if err := cw.grow(0); err != nil {
		return Entry{}, err
	}
	tmp, err := f.createTemp("destination", dst, 0o644)
	if err != nil {
		f.usage.Add(-cw.reserved)
		return Entry{}, err
	}
	cw.w = tmp
	gz := gzip.NewWriter(cw)
	tw := tar.NewWriter(gz)
	skip := func(name string, _ bool) bool { return name == tmp.name }
	for _, name := range names {
		if err = f.addToTar(context.Background(), tw, name, skip); err != nil {
			break
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err := f.commit(tmp, dst, cw, err); err != nil {
		return Entry{}, fsError("paths", dst, err)
	}
	return f.settle("destination", dst, cw)
}

// WriteTar adds the whole folder to tw as Compress archives it, leaving
// out every path skip reports (a folder with everything under it), in
// name order. It stops with ctx's error when ctx ends.
func (f *Folder) WriteTar(ctx context.Context, tw *tar.Writer, skip func(name string, isDir bool) bool) error {
	return f.addToTar(ctx, tw, ".", skip)
}

// addToTar adds name, and everything under it when it is a folder, to tw,
// leaving out what skip reports (the archive being written, ignored
// paths).
func (f *Folder) addToTar(ctx context.Context, tw *tar.Writer, name string, skip func(name string, isDir bool) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := f.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) && name != "." {
		return nil // removed by the game since its folder was read
	}
	if err != nil {
		return fsError("paths", name, err)
	}
	if name != "." && skip(name, info.IsDir()) {
		return nil
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := f.root.Readlink(name)
		if err != nil {
			return fsError("paths", name, err)
		}
		return writeHeader(tw, info, name, target)
	case info.IsDir():
		if name != "." {
			if err := writeHeader(tw, info, name+"/", ""); err != nil {
				return err
			}
		}
		d, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return fsError("paths", name, err)
		}
		children, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return fsError("paths", name, err)
		}
		slices.Sort(children)
		for _, c := range children {
			if err := f.addToTar(ctx, tw, path.Join(name, c), skip); err != nil {
				return err
			}
		}
		return nil
	case info.Mode().IsRegular():
		file, finfo, err := f.openRegular("paths", name)
		if err != nil {
			if KindOf(err) == NotExist {
				return nil
			}
			return err
		}
		defer file.Close()
		if err := writeHeader(tw, finfo, name, ""); err != nil {
			return err
		}
		n, err := io.Copy(tw, io.LimitReader(file, finfo.Size()))
		if err != nil {
			return err
		}
		// A file the game shortened while it was read is padded, as GNU
		// tar does: the header already promised its size.
		_, err = io.CopyN(tw, zeros{}, finfo.Size()-n)
		return err
	}
	return nil // FIFOs, sockets and devices are not archived
}

func writeHeader(tw *tar.Writer, info fs.FileInfo, name, link string) error {
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", ""
	return tw.WriteHeader(hdr)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// ExtractResult counts what an extraction wrote.
type ExtractResult struct {
	Files int
	Bytes int64
}

// archiveEntry is one entry of an archive, checked and ready to write.
type archiveEntry struct {
	// name is where it goes in the folder, clean.
	name string
	kind byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink or tar.TypeLink
	size int64
	mode fs.FileMode
	// link is a symbolic link's target, or a hard link's clean name in
	// the folder.
	link string
	open func() (io.ReadCloser, error)
}

// archiveReader yields an archive's entries in order.
type archiveReader interface {
	next() (*archiveEntry, error) // io.EOF at the end
	Close() error
}

// Extract unpacks the archive at p (field "path"), a .tar.gz, .tgz, .tar
// or .zip file, into the folder at destination (field "destination"),
// created when missing. It reads the archive twice. The first pass checks
// every entry and refuses the whole archive, before anything is written,
// when an entry's name or link leads outside destination, when the sizes
// pass lim, or when they would pass the disk limit. The second pass
// writes, checking each entry again, since the game may rewrite the
// archive between the passes. Regular files are written atomically;
// symbolic links are made last, so that no entry of the archive is written
// through a link the archive made. Hard links become copies.
func (f *Folder) Extract(p, destination string, lim ExtractLimits) (ExtractResult, error) {
	name, err := Clean("path", p)
	if err != nil {
		return ExtractResult{}, err
	}
	dst, err := Clean("destination", destination)
	if err != nil {
		return ExtractResult{}, err
	}
	if err := f.checkDenied("path", name, false); err != nil {
		return ExtractResult{}, err
	}
	if err := f.checkDenied("destination", dst, true); err != nil {
		return ExtractResult{}, err
	}
	open, err := archiveOpener(name)
	if err != nil {
		return ExtractResult{}, err
	}
	file, info, err := f.openRegular("path", name)
	if err != nil {
		return ExtractResult{}, err
	}
	defer file.Close()

	// Pass 1: check everything, write nothing.
	ar, err := open(file, info.Size(), name, dst)
	if err != nil {
		return ExtractResult{}, err
	}
	// total is the bytes the files unpack to, for lim; need is what they
	// take as the disk limit counts (whole blocks, folders and links
	// included), less what they replace.
	var total, need int64
	entries := 0
	seen := newArchiveLinks(dst)
	folders := map[string]bool{}
	for {
		e, err := ar.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ar.Close()
			return ExtractResult{}, err
		}
		seen.add(e)
		if denied, pattern := f.deny.Denies(e.name, e.kind == tar.TypeDir); denied {
			ar.Close()
			return ExtractResult{}, newError(Denied, "path", "the archive would write %q, which is in the template's file denylist (%q)", e.name, pattern)
		}
		entries++
		if lim.MaxEntries > 0 && entries > lim.MaxEntries {
			ar.Close()
			return ExtractResult{}, newError(TooLarge, "path", "the archive has more than %d entries", lim.MaxEntries)
		}
		need += f.newFolders(folders, e)
		if e.kind == tar.TypeDir {
			continue
		}
		need += blocks(e.size)
		if old, err := f.root.Lstat(e.name); err == nil && !old.IsDir() {
			need -= footprint(old)
		}
		if e.kind == tar.TypeSymlink {
			continue
		}
		total += e.size
		if lim.MaxBytes > 0 && total > lim.MaxBytes {
			ar.Close()
			return ExtractResult{}, newError(TooLarge, "path", "the archive unpacks to more than %s", FormatBytes(lim.MaxBytes))
		}
	}
	ar.Close()
	if err := f.checkLinks(seen); err != nil {
		return ExtractResult{}, err
	}
	if err := f.usage.Check("path", need); err != nil {
		return ExtractResult{}, err
	}

	// Pass 2: write, checking again.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return ExtractResult{}, err
	}
	ar, err = open(file, info.Size(), name, dst)
	if err != nil {
		return ExtractResult{}, err
	}
	defer ar.Close()
	if err := f.mkdirAll("destination", dst); err != nil {
		return ExtractResult{}, err
	}
	var res ExtractResult
	var links []*archiveEntry
	seen = newArchiveLinks(dst)
	for {
		e, err := ar.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		seen.add(e)
		if e.kind == tar.TypeSymlink {
			links = append(links, e)
			continue
		}
		if err := f.extractEntry(e, &res, lim); err != nil {
			return res, err
		}
	}
	// The archive may have changed since pass 1: its links are checked
	// again, against the folder as it is now, before any is made.
	if err := f.checkLinks(seen); err != nil {
		return res, err
	}
	for _, e := range links {
		if err := f.extractLink(e); err != nil {
			return res, err
		}
	}
	return res, nil
}

// newFolders is the footprint of the folders extracting e will create:
// its own when it is one, and its parents', down to the destination, that
// do not exist yet. known holds the folders already counted, or found to
// exist, for the entries before.
func (f *Folder) newFolders(known map[string]bool, e *archiveEntry) int64 {
	dir := path.Dir(e.name)
	if e.kind == tar.TypeDir {
		dir = e.name
	}
	var n int64
	for ; dir != "." && !known[dir]; dir = path.Dir(dir) {
		known[dir] = true
		if _, err := f.root.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			n += BlockSize
		}
	}
	return n
}

// archiveLinks gathers the entries of an archive as they are read, so that
// its links can be checked once all of them are known: a link may point
// through another that comes later in the archive, and links are made
// after every other entry.
type archiveLinks struct {
	dst string
	// targets holds each symbolic link's target by its name in the
	// folder; the last entry of a name wins, as it does when extracting.
	targets map[string]string
	// names are the names of every entry, links included.
	names []string
}

func newArchiveLinks(dst string) *archiveLinks {
	return &archiveLinks{dst: dst, targets: map[string]string{}}
}

func (a *archiveLinks) add(e *archiveEntry) {
	a.names = append(a.names, e.name)
	if e.kind == tar.TypeSymlink {
		a.targets[e.name] = e.link
	}
}

// Bounds of following an archive's links, as the kernel's: at most
// maxLinkHops links in one resolution, and maxLinkSteps names walked.
const (
	maxLinkHops  = 40
	maxLinkSteps = 4096
)

// checkLinks refuses, with Escape, an archive that has an entry inside
// one of its own links (it would be written through the link), or a link
// that leads out of the destination once the links it passes through are
// followed: the archive's other links, and those already in the folder.
// Each link alone was checked by entry, but "c1 -> ." and then
// "c2 -> c1/.." each stay inside, while c2 leads to the destination's
// parent.
func (f *Folder) checkLinks(a *archiveLinks) error {
	if len(a.targets) == 0 {
		return nil
	}
	for _, name := range a.names {
		for dir := path.Dir(name); dir != a.dst && dir != "."; dir = path.Dir(dir) {
			if _, ok := a.targets[dir]; ok {
				return newError(Escape, "path", "archive entry %q is inside %q, a link of the archive, and would be written through it",
					printable(a.rel(name)), printable(a.rel(dir)))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.targets)) {
		if err := f.resolveLink(a, name); err != nil {
			return err
		}
	}
	return nil
}

// rel is name as the archive writes it, relative to the destination.
func (a *archiveLinks) rel(name string) string {
	switch {
	case a.dst == ".":
		return name
	case name == a.dst:
		return "."
	}
	return strings.TrimPrefix(name, a.dst+"/")
}

// resolveLink follows the link name, walking from the destination down
// its folder and then along its target, name by name. Each name that is
// a link, of the archive or in the folder already, is replaced by its
// target; every step must stay inside the destination.
func (f *Folder) resolveLink(a *archiveLinks, name string) error {
	escape := func() error {
		return newError(Escape, "path", "archive entry %q is a link to %q, which leads outside the destination through the links on its way",
			printable(a.rel(name)), printable(a.targets[name]))
	}
	var base []string
	if a.dst != "." {
		base = strings.Split(a.dst, "/")
	}
	cur := slices.Clone(base)
	pending := strings.Split(a.rel(path.Dir(name))+"/"+a.targets[name], "/")
	hops, steps := 0, 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		if steps++; steps > maxLinkSteps {
			return newError(Invalid, "path", "archive entry %q is a link that takes too many steps to follow", printable(a.rel(name)))
		}
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == len(base) {
				return escape()
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		p := strings.Join(cur, "/")
		target, ok := a.targets[p]
		if !ok {
			var err error
			if target, ok, err = f.diskLink(p); err != nil {
				if KindOf(err) == Escape {
					return escape()
				}
				return err
			}
		}
		if !ok {
			continue
		}
		if hops++; hops > maxLinkHops {
			return newError(Invalid, "path", "archive entry %q is a link with too many levels of links", printable(a.rel(name)))
		}
		if strings.HasPrefix(target, "/") {
			return escape()
		}
		cur = cur[:len(cur)-1]
		pending = append(strings.Split(target, "/"), pending...)
	}
	return nil
}

// diskLink returns the target of p, a name in the folder, when it is a
// symbolic link already there; ok is false when it is anything else or
// nothing.
func (f *Folder) diskLink(p string) (target string, ok bool, err error) {
	info, err := f.root.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return "", false, nil
		}
		return "", false, fsError("path", p, err)
	}
	if info.Mode()&fs.ModeSymlink == 0 {
		return "", false, nil
	}
	target, err = f.root.Readlink(p)
	if err != nil {
		return "", false, fsError("path", p, err)
	}
	return target, true, nil
}

// extractEntry writes one folder, file or hard link of an archive.
func (f *Folder) extractEntry(e *archiveEntry, res *ExtractResult, lim ExtractLimits) error {
	const field = "path"
	if e.kind == tar.TypeDir {
		return f.mkdirAll(field, e.name)
	}
	if err := f.mkdirAll(field, path.Dir(e.name)); err != nil {
		return err
	}
	rest := int64(noCap)
	if lim.MaxBytes > 0 {
		rest = max(lim.MaxBytes-res.Bytes, 0)
	}
	var src io.ReadCloser
	var err error
	if e.kind == tar.TypeLink {
		var file *os.File
		file, _, err = f.openRegular(field, e.link)
		src = file
	} else {
		src, err = e.open()
	}
	if err != nil {
		return err
	}
	defer src.Close()
	written, err := f.writeFile(field, e.name, src, -1, rest, e.mode)
	if err != nil {
		if KindOf(err) == TooLarge {
			return newError(TooLarge, field, "the archive unpacks to more than %s", FormatBytes(lim.MaxBytes))
		}
		if KindOf(err) == 0 {
			return &Error{Kind: Invalid, Field: field, Msg: fmt.Sprintf("archive entry %q cannot be read", e.name), Err: err}
		}
		return err
	}
	res.Files++
	res.Bytes += written.Size
	return nil
}

// extractLink makes one symbolic link of an archive. Its target was
// checked to stay inside destination; a link already there is replaced,
// anything else in the way is a conflict.
func (f *Folder) extractLink(e *archiveEntry) error {
	const field = "path"
	if err := f.mkdirAll(field, path.Dir(e.name)); err != nil {
		return err
	}
	if old, err := f.root.Lstat(e.name); err == nil {
		if old.Mode()&fs.ModeSymlink == 0 {
			return newError(Exist, field, "archive entry %q: a file or folder is in the way of its link", e.name)
		}
		if err := f.root.Remove(e.name); err != nil {
			return fsError(field, e.name, err)
		}
		f.usage.Add(-footprint(old))
	}
	if err := f.usage.Reserve(field, BlockSize); err != nil {
		return err
	}
	if err := f.root.Symlink(e.link, e.name); err != nil {
		f.usage.Add(-BlockSize)
		return fsError(field, e.name, err)
	}
	if err := f.chown(e.name); err != nil {
		return fsError(field, e.name, err)
	}
	return nil
}

// archiveOpener picks the reader for an archive by its name.
func archiveOpener(name string) (func(file *os.File, size int64, name, dst string) (archiveReader, error), error) {
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return func(file *os.File, _ int64, name, dst string) (archiveReader, error) {
			gz, err := gzip.NewReader(file)
			if err != nil {
				return nil, &Error{Kind: Invalid, Field: "path", Msg: fmt.Sprintf("%q is not a gzip file", name), Err: err}
			}
			return &tarReader{tr: tar.NewReader(gz), gz: gz, dst: dst, archive: name}, nil
		}, nil
	case strings.HasSuffix(name, ".tar"):
		return func(file *os.File, _ int64, name, dst string) (archiveReader, error) {
			return &tarReader{tr: tar.NewReader(file), dst: dst, archive: name}, nil
		}, nil
	case strings.HasSuffix(name, ".zip"):
		return func(file *os.File, size int64, name, dst string) (archiveReader, error) {
			zr, err := zip.NewReader(file, size)
			if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
				return nil, &Error{Kind: Invalid, Field: "path", Msg: fmt.Sprintf("%q is not a zip file", name), Err: err}
			}
			return &zipReader{files: zr.File, dst: dst}, nil
		}, nil
	}
	return nil, newError(Invalid, "path", "must name a .tar.gz, .tgz, .tar or .zip file")
}

// tarReader reads a tar stream, optionally gzip-compressed.
type tarReader struct {
	tr      *tar.Reader
	gz      *gzip.Reader
	dst     string
	archive string
	// seen holds the sizes of the regular files read so far, by name,
	// for hard links, which may only point back at one of them.
	seen map[string]int64
}

func (t *tarReader) next() (*archiveEntry, error) {
	for {
		hdr, err := t.tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if err != nil {
			return nil, &Error{Kind: Invalid, Field: "path", Msg: fmt.Sprintf("%q is not a readable tar archive", t.archive), Err: err}
		}
		var e *archiveEntry
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse:
			e, err = entry(t.dst, hdr.Name, tar.TypeReg, hdr.Size, hdr.FileInfo().Mode(), "")
		case tar.TypeDir:
			e, err = entry(t.dst, hdr.Name, tar.TypeDir, 0, 0, "")
		case tar.TypeSymlink:
			e, err = entry(t.dst, hdr.Name, tar.TypeSymlink, 0, 0, hdr.Linkname)
		case tar.TypeLink:
			e, err = entry(t.dst, hdr.Name, tar.TypeLink, 0, 0, hdr.Linkname)
		case tar.TypeXGlobalHeader:
			continue
		default:
			return nil, newError(Invalid, "path", "archive entry %q is a device, FIFO or other special file, which cannot be extracted", printable(hdr.Name))
		}
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue // the archive's own top folder, "./"
		}
		switch e.kind {
		case tar.TypeReg:
			if t.seen == nil {
				t.seen = map[string]int64{}
			}
			size := hdr.Size
			t.seen[e.name] = size
			e.open = func() (io.ReadCloser, error) { return io.NopCloser(io.LimitReader(t.tr, size)), nil }
		case tar.TypeLink:
			size, ok := t.seen[e.link]
			if !ok {
				return nil, newError(Invalid, "path", "archive entry %q is a hard link to %q, which is not a file earlier in the archive",
					printable(hdr.Name), printable(hdr.Linkname))
			}
			e.size = size
		}
		return e, nil
	}
}

func (t *tarReader) Close() error {
	if t.gz != nil {
		return t.gz.Close()
	}
	return nil
}

// zipReader reads a zip file's entries from its central directory.
type zipReader struct {
	files []*zip.File
	dst   string
	i     int
}

func (z *zipReader) next() (*archiveEntry, error) {
	for z.i < len(z.files) {
		zf := z.files[z.i]
		z.i++
		// The format says '/'; backslashes come from broken Windows tools.
		raw := strings.ReplaceAll(zf.Name, `\`, "/")
		mode := zf.Mode()
		var e *archiveEntry
		var err error
		switch {
		case mode&fs.ModeSymlink != 0:
			target, rerr := readZipLink(zf)
			if rerr != nil {
				return nil, rerr
			}
			e, err = entry(z.dst, raw, tar.TypeSymlink, 0, 0, target)
		case mode.IsDir() || strings.HasSuffix(raw, "/"):
			e, err = entry(z.dst, raw, tar.TypeDir, 0, 0, "")
		case mode.IsRegular():
			if zf.UncompressedSize64 > 1<<62 {
				return nil, newError(Invalid, "path", "archive entry %q declares an impossible size", printable(zf.Name))
			}
			e, err = entry(z.dst, raw, tar.TypeReg, int64(zf.UncompressedSize64), mode, "")
			if e != nil {
				e.open = func() (io.ReadCloser, error) {
					rc, err := zf.Open()
					if err != nil {
						return nil, &Error{Kind: Invalid, Field: "path", Msg: fmt.Sprintf("archive entry %q cannot be read", printable(zf.Name)), Err: err}
					}
					return rc, nil
				}
			}
		default:
			return nil, newError(Invalid, "path", "archive entry %q is a device, FIFO or other special file, which cannot be extracted", printable(zf.Name))
		}
		if err != nil {
			return nil, err
		}
		if e != nil {
			return e, nil
		}
	}
	return nil, io.EOF
}

func (z *zipReader) Close() error { return nil }

// readZipLink reads a zip symbolic link's target, stored as its content.
func readZipLink(zf *zip.File) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", &Error{Kind: Invalid, Field: "path", Msg: fmt.Sprintf("archive entry %q cannot be read", printable(zf.Name)), Err: err}
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxPathBytes+1))
	if err != nil || len(b) > MaxPathBytes {
		return "", newError(Invalid, "path", "archive entry %q has an unreadable link target", printable(zf.Name))
	}
	return string(b), nil
}

// entry checks one archive entry: its name must stay inside dst, and so
// must a link's target. It returns nil, nil for the archive's root entry.
func entry(dst, raw string, kind byte, size int64, mode fs.FileMode, link string) (*archiveEntry, error) {
	const field = "path"
	trimmed := strings.TrimPrefix(raw, "./")
	rel, err := Clean(field, trimmed)
	if err != nil {
		var fe *Error
		errors.As(err, &fe)
		return nil, &Error{Kind: fe.Kind, Field: field, Msg: fmt.Sprintf("archive entry %q %s", printable(raw), entryRule(fe.Kind))}
	}
	if rel == "." {
		if kind == tar.TypeDir {
			return nil, nil
		}
		return nil, newError(Invalid, field, "archive entry %q has no name", printable(raw))
	}
	if size < 0 {
		return nil, newError(Invalid, field, "archive entry %q has a negative size", printable(raw))
	}
	e := &archiveEntry{name: path.Join(dst, rel), kind: kind, size: size, mode: mode.Perm()}
	if len(e.name) > MaxPathBytes {
		return nil, newError(Invalid, field, "archive entry %q makes a path longer than %d bytes", printable(raw), MaxPathBytes)
	}
	switch kind {
	case tar.TypeSymlink:
		// The target is resolved from the link's folder, and must land
		// inside dst: the link is for the archive's own files.
		if link == "" || strings.HasPrefix(link, "/") || strings.IndexByte(link, 0) >= 0 || !utf8.ValidString(link) {
			return nil, newError(Escape, field, "archive entry %q is a link to %q, outside the destination", printable(raw), printable(link))
		}
		resolved := path.Join(path.Dir(rel), link)
		if resolved == ".." || strings.HasPrefix(resolved, "../") {
			return nil, newError(Escape, field, "archive entry %q is a link to %q, outside the destination", printable(raw), printable(link))
		}
		e.link = link
	case tar.TypeLink:
		target, err := Clean(field, strings.TrimPrefix(link, "./"))
		if err != nil || target == "." {
			return nil, newError(Escape, field, "archive entry %q is a hard link to %q, outside the destination", printable(raw), printable(link))
		}
		e.link = path.Join(dst, target)
	}
	return e, nil
}

// entryRule says what is wrong with an entry name Clean refused.
func entryRule(k Kind) string {
	if k == Escape {
		return "leads outside the destination (an absolute name or '..')"
	}
	return "is not a usable name (NUL, invalid UTF-8 or too long)"
}

// printable makes a name from an archive safe to quote in a message.
func printable(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", `\0`), "?")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
