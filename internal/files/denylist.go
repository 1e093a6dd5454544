package files

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// Denylist is a template's file denylist (an egg's file_denylist): paths of
// the data folder the file API refuses to touch, such as the server's jar
// that a host does not want replaced. Patterns are read as .gitignore
// lines, against the path from the data folder:
//
//   - a pattern without a slash ("*.jar") matches a name at any depth;
//     one with a slash at its start or in its middle ("/server.jar",
//     "config/ops.json") matches from the folder's top;
//   - a trailing slash ("logs/") matches only a folder;
//   - "*", "?" and "[...]" match within one name, and "**" any number of
//     folders ("**/secret", "a/**/b", "cache/**");
//   - "!" before a pattern allows again what an earlier one denied; the
//     last pattern that matches decides;
//   - what is inside a denied folder is denied, whatever comes after;
//   - "#" starts a comment, and "\" escapes a leading "#" or "!".
//
// A nil or empty Denylist denies nothing.
type Denylist struct {
	rules []denyRule
}

// denyRule is one pattern, compiled.
type denyRule struct {
	source  string
	negate  bool
	dirOnly bool
	// segs is the pattern split at its slashes; an unanchored pattern
	// starts with "**".
	segs []string
}

// NewDenylist compiles patterns; blank lines and comments are skipped.
func NewDenylist(patterns []string) *Denylist {
	d := &Denylist{}
	for _, p := range patterns {
		if r, ok := compileDenyRule(p); ok {
			d.rules = append(d.rules, r)
		}
	}
	return d
}

func compileDenyRule(p string) (denyRule, bool) {
	r := denyRule{source: p}
	p = strings.TrimRight(p, " \t")
	if p == "" || strings.HasPrefix(p, "#") {
		return r, false
	}
	if rest, ok := strings.CutPrefix(p, "!"); ok {
		r.negate, p = true, rest
	} else if strings.HasPrefix(p, `\!`) || strings.HasPrefix(p, `\#`) {
		p = p[1:]
	}
	if rest, ok := strings.CutSuffix(p, "/"); ok {
		r.dirOnly, p = true, rest
	}
	anchored := strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return r, false
	}
	r.segs = strings.Split(p, "/")
	if !anchored {
		r.segs = append([]string{"**"}, r.segs...)
	}
	return r, true
}

// Empty reports whether d denies nothing.
func (d *Denylist) Empty() bool { return d == nil || len(d.rules) == 0 }

// Denies reports whether the clean name (isDir: a folder) is denied, and
// the pattern that denies it, or that denies the folder it is in.
func (d *Denylist) Denies(name string, isDir bool) (bool, string) {
	if d.Empty() || name == "." {
		return false, ""
	}
	parts := strings.Split(name, "/")
	for i := range parts {
		dir := i < len(parts)-1
		if denied, pattern := d.decide(parts[:i+1], dir || isDir); denied {
			return true, pattern
		}
	}
	return false, ""
}

// decide applies the rules to one path: the last that matches wins.
func (d *Denylist) decide(parts []string, isDir bool) (bool, string) {
	denied, pattern := false, ""
	for _, r := range d.rules {
		if r.dirOnly && !isDir {
			continue
		}
		if matchSegments(r.segs, parts) {
			denied, pattern = !r.negate, r.source
		}
	}
	return denied, pattern
}

// matchSegments matches a path's names against a pattern's; "**" stands
// for any number of names, and a final "**" for at least one.
func matchSegments(segs, parts []string) bool {
	if len(segs) == 0 {
		return len(parts) == 0
	}
	if segs[0] == "**" {
		if len(segs) == 1 {
			return len(parts) > 0
		}
		for i := 0; i <= len(parts); i++ {
			if matchSegments(segs[1:], parts[i:]) {
				return true
			}
		}
		return false
	}
	if len(parts) == 0 {
		return false
	}
	ok, err := path.Match(segs[0], parts[0])
	return ok && err == nil && matchSegments(segs[1:], parts[1:])
}

// SetDenylist makes the folder refuse, with Denied, the paths d denies:
// reads and downloads, writes and uploads, new folders, renames and
// deletes (of a folder too, when something in it is denied), archive
// sources and destinations, and extraction targets. Listing is allowed, so
// a user can see why. It is called before the folder is used.
func (f *Folder) SetDenylist(d *Denylist) { f.deny = d }

// checkDenied refuses name (sent in field) when the denylist denies it.
func (f *Folder) checkDenied(field, name string, isDir bool) error {
	if denied, pattern := f.deny.Denies(name, isDir); denied {
		return newError(Denied, field, "%q is in the template's file denylist (%q)", name, pattern)
	}
	return nil
}

// checkDeniedTree refuses name when it, or anything inside it if it is a
// folder, is denied: moving or deleting the folder would move or delete
// that too. name must exist.
func (f *Folder) checkDeniedTree(field, name string) error {
	if f.deny.Empty() {
		return nil
	}
	info, err := f.root.Lstat(name)
	if err != nil {
		return fsError(field, name, err)
	}
	if err := f.checkDenied(field, name, info.IsDir()); err != nil || !info.IsDir() {
		return err
	}
	var found error
	err = fs.WalkDir(f.root.FS(), name, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone since; nothing of it to protect
		}
		if derr := f.checkDenied(field, p, e.IsDir()); derr != nil {
			found = newError(Denied, field, "%q holds %q, which is in the template's file denylist", name, p)
			return fs.SkipAll
		}
		return nil
	})
	if found != nil {
		return found
	}
	if err != nil && !errors.Is(err, fs.SkipAll) {
		return fsError(field, name, err)
	}
	return nil
}
