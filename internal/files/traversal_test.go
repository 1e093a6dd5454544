package files

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/files/filestest"
)

// The traversal corpus runs every operation of a Folder on every path of
// testdata/traversal.txt (and a few generated ones), each in a fresh
// sandbox, and checks that nothing outside the instance's folder was read
// into the folder, created, modified or deleted: the folder's parent is
// listed and hashed before and after, and so is the real /etc for the
// cases whose links lead there.

// traversalCase is one line of the corpus.
type traversalCase struct {
	category string
	path     string
}

func loadCorpus(t *testing.T) []traversalCase {
	t.Helper()
	var cases []traversalCase
	for _, c := range filestest.Corpus(t) {
		cases = append(cases, traversalCase{c.Category, c.Path})
	}
	// Generated: too long to write down.
	cases = append(cases,
		traversalCase{"escape", strings.Repeat("n", MaxNameBytes+1)},
		traversalCase{"escape", "inner/" + strings.Repeat("n", 10_000)},
		traversalCase{"escape", strings.Repeat("d/", MaxPathBytes/2) + "x"},
		traversalCase{"escape", strings.Repeat("../", 300) + "etc/passwd"},
	)
	return cases
}

// sandbox is an instance's folder beside things it must not reach.
type sandbox struct {
	base, dir string
	f         *Folder
}

// newSandbox lays out:
//
//	base/outside/sentinel.txt, outside/secret/key, outside/etc/passwd,
//	outside/evil.tar.gz (an archive outside, to extract through a link)
//	base/folder/                   the instance's folder, holding
//	  inner/file.txt, ok.tar.gz    ordinary content
//	  link-inside -> inner         a link that stays inside
//	  link-etc -> /etc, link-passwd -> /etc/passwd           the real /etc
//	  link-fake-etc -> base/outside/etc (absolute), link-fake-passwd
//	  link-out -> ../outside, link-sentinel -> ../outside/sentinel.txt
//	  link-chain -> link-out, link-deep -> inner/../../outside
//	  inner/link-up -> ../../outside
//	  link-rel-etc -> ../../../../../../../../etc
//	  link-dot -> .
//	  chain-*.tar.gz, chain-sub.zip, write-through-link.*: archives whose
//	  links lead out only through one another, or through link-dot, or
//	  that write a file through their own link
func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	base := t.TempDir()
	s := &sandbox{base: base, dir: filepath.Join(base, "folder")}
	outside := filepath.Join(base, "outside")
	mustWrite(t, filepath.Join(outside, "sentinel.txt"), "sentinel: must never change")
	mustWrite(t, filepath.Join(outside, "secret", "key"), "secret key")
	mustWrite(t, filepath.Join(outside, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n")
	mustWriteBytes(t, filepath.Join(outside, "evil.tar.gz"), tarGz(t, tarEntry{name: "escaped.txt", body: "out"}))
	mustWrite(t, filepath.Join(s.dir, "inner", "file.txt"), "inner file")
	mustWriteBytes(t, filepath.Join(s.dir, "ok.tar.gz"), tarGz(t, tarEntry{name: "from-archive.txt", body: "in"}))
	link := func(name, target string) tarEntry { return tarEntry{name: name, typ: tar.TypeSymlink, link: target} }
	zipLink := func(name, target string) zipEntry {
		return zipEntry{name: name, body: target, mode: fs.ModeSymlink | 0o777}
	}
	for name, content := range map[string][]byte{
		"chain-dot.tar.gz":          tarGz(t, link("c1", "."), link("c2", "c1/../outside/sentinel.txt")),
		"chain-reversed.tar.gz":     tarGz(t, link("c2", "c1/../outside"), link("c1", ".")),
		"chain-sub.zip":             zipBytes(t, zipLink("d/b", ".."), zipLink("a", "d/b/../outside")),
		"chain-disk.tar.gz":         tarGz(t, link("c2", "link-dot/../outside")),
		"write-through-link.tar.gz": tarGz(t, link("c1", "inner"), tarEntry{name: "c1/escaped.txt", body: "out"}),
		"write-through-link.zip":    zipBytes(t, zipLink("c1", "inner"), zipEntry{name: "c1/escaped.txt", body: "out"}),
	} {
		mustWriteBytes(t, filepath.Join(s.dir, name), content)
	}
	links := map[string]string{
		"link-inside":      "inner",
		"link-etc":         "/etc",
		"link-passwd":      "/etc/passwd",
		"link-fake-etc":    filepath.Join(outside, "etc"),
		"link-fake-passwd": filepath.Join(outside, "etc", "passwd"),
		"link-out":         "../outside",
		"link-sentinel":    "../outside/sentinel.txt",
		"link-chain":       "link-out",
		"link-deep":        "inner/../../outside",
		"inner/link-up":    "../../outside",
		"link-rel-etc":     "../../../../../../../../etc",
		"link-dot":         ".",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(s.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(s.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	s.f = f
	return s
}

func mustWrite(t *testing.T, name, content string) { mustWriteBytes(t, name, []byte(content)) }

func mustWriteBytes(t *testing.T, name string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every file under dir, skipping the folder skip: its
// type, size, time, content hash or link target.
func snapshot(t *testing.T, dir, skip string, depth int) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && (os.IsPermission(err) || os.IsNotExist(err)) {
				return nil
			}
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(dir, p)
		if depth >= 0 && strings.Count(rel, string(filepath.Separator)) >= depth && d.IsDir() && p != dir {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		desc := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode().IsRegular() && info.Size() < 1<<20:
			b, err := os.ReadFile(p)
			if err == nil {
				sum := sha256.Sum256(b)
				desc += " " + hex.EncodeToString(sum[:])
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outsideState is what a case must leave unchanged: the folder's parent
// (the folder itself excluded) and, for the -ro cases, /etc's top level
// with the content of its small files.
func (s *sandbox) outsideState(t *testing.T, withEtc bool) map[string]string {
	t.Helper()
	state := snapshot(t, s.base, s.dir, -1)
	if withEtc {
		for k, v := range snapshot(t, "/etc", "", 1) {
			state["/etc/"+k] = v
		}
	}
	return state
}

func diffStates(before, after map[string]string) []string {
	var diffs []string
	for k, v := range before {
		if after[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", k, v, after[k]))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: created %q", k, v))
		}
	}
	return diffs
}

// folderOp is one operation run on a corpus path.
type folderOp struct {
	name string
	// writes is set for operations that can create, change or remove.
	writes bool
	run    func(f *Folder, p string) error
}

var folderOps = []folderOp{
	{"list", false, func(f *Folder, p string) error { _, err := f.List(p); return err }},
	{"read", false, func(f *Folder, p string) error {
		file, _, err := f.OpenFile("path", p, 0)
		if err == nil {
			file.Close()
		}
		return err
	}},
	{"stat", false, func(f *Folder, p string) error { _, err := f.Stat("path", p); return err }},
	{"write", true, func(f *Folder, p string) error {
		_, err := f.Write(p, strings.NewReader("pwned"), 5, 0)
		return err
	}},
	{"mkdir", true, func(f *Folder, p string) error { return f.Mkdir(p) }},
	{"rename-from", true, func(f *Folder, p string) error { return f.Rename(p, "renamed") }},
	{"rename-to", true, func(f *Folder, p string) error { return f.Rename("inner/file.txt", p) }},
	{"delete", true, func(f *Folder, p string) error { return f.Delete([]string{p}) }},
	{"upload-into", true, func(f *Folder, p string) error {
		_, err := f.Upload(p, multipartOf(map[string]string{"up.txt": "pwned"}), UploadLimits{})
		return err
	}},
	{"upload-named", true, func(f *Folder, p string) error {
		_, err := f.Upload(".", multipartOf(map[string]string{p: "pwned"}), UploadLimits{})
		return err
	}},
	{"compress-from", true, func(f *Folder, p string) error {
		_, err := f.Compress([]string{p}, "out.tar.gz")
		return err
	}},
	{"compress-to", true, func(f *Folder, p string) error {
		_, err := f.Compress([]string{"inner"}, p+"/out.tar.gz")
		return err
	}},
	{"extract-from", true, func(f *Folder, p string) error {
		if !strings.HasSuffix(p, ".tar.gz") && !strings.HasSuffix(p, ".zip") {
			p += "/evil.tar.gz"
		}
		_, err := f.Extract(p, ".", ExtractLimits{})
		return err
	}},
	{"extract-into", true, func(f *Folder, p string) error {
		_, err := f.Extract("ok.tar.gz", p, ExtractLimits{})
		return err
	}},
}

// multipartOf builds a multipart body with one file part per entry, the
// file name written raw, as a hostile client would.
func multipartOf(parts map[string]string) *multipart.Reader {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for name, content := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="files"; filename="`+strings.ReplaceAll(name, `"`, `\"`)+`"`)
		pw, _ := w.CreatePart(h)
		io.WriteString(pw, content)
	}
	w.Close()
	return multipart.NewReader(&buf, w.Boundary())
}

func TestTraversalCorpusMakesZeroEscapes(t *testing.T) {
	cases := loadCorpus(t)
	refused, ran := 0, 0
	for _, c := range cases {
		readOnlyTarget := strings.HasSuffix(c.category, "-ro")
		for _, op := range folderOps {
			if readOnlyTarget && op.writes {
				continue
			}
			mustRefuse := strings.HasPrefix(c.category, "escape") || c.category == "archive" && op.name == "extract-from"
			name := fmt.Sprintf("%s/%s/%.40q", c.category, op.name, c.path)
			s := newSandbox(t)
			before := s.outsideState(t, readOnlyTarget)
			err := op.run(s.f, c.path)
			ran++
			if diffs := diffStates(before, s.outsideState(t, readOnlyTarget)); len(diffs) > 0 {
				t.Errorf("%s: ESCAPE, outside the folder changed: %s", name, strings.Join(diffs, "; "))
			}
			if err != nil {
				refused++
			}
			if mustRefuse {
				if err == nil {
					t.Errorf("%s: accepted, want a refusal", name)
					continue
				}
				if k := KindOf(err); k != Escape && k != Invalid {
					t.Errorf("%s: refused with %v (kind %d), want Escape or Invalid", name, err, k)
				}
			}
			if err != nil && strings.Contains(err.Error(), s.base) && KindOf(err) != 0 {
				t.Errorf("%s: the message reveals a host path: %v", name, err)
			}
			s.checkInsideUntouchedByTargets(t, name)
		}
	}
	t.Logf("traversal corpus: %d cases, %d operations run, %d refused, 0 escapes unless reported above", len(cases), ran, refused)
}

// checkInsideUntouchedByTargets checks that nothing from outside was
// copied into the folder: no file there holds the sentinel's, the secret's
// or an etc passwd's content.
func (s *sandbox) checkInsideUntouchedByTargets(t *testing.T, name string) {
	t.Helper()
	_ = filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if strings.HasSuffix(p, ".tar.gz") {
			b, _ := os.ReadFile(p)
			for _, secret := range []string{"sentinel: must never change", "secret key", "root:x:0:0"} {
				if bytes.Contains(gunzip(b), []byte(secret)) {
					t.Errorf("%s: ESCAPE, %s holds content from outside the folder", name, p)
				}
			}
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, secret := range []string{"sentinel: must never change", "secret key", "root:x:0:0", "out"} {
			if string(b) == secret {
				t.Errorf("%s: ESCAPE, %s holds content from outside the folder", name, p)
			}
		}
		return nil
	})
}
