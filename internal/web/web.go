// Package web is the panel's browser UI: its page templates, stylesheet and
// scripts, embedded in the binary. A Site parses the templates once, serves
// the static files at content-hashed, immutable URLs (gzip-compressed for
// browsers that take it), and renders pages under a strict
// Content-Security-Policy: no inline script or style, nothing from another
// origin.
//
// Every page template defines "title" and "main", and may define "scripts"
// (the page's own script tags) and "head"; layout.html wraps them. Pages get
// a Page: the viewer, the section of the navigation they belong to, and
// their own data.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates static
var files embed.FS

// CSP is the Content-Security-Policy of every page: scripts, styles,
// images and connections from the panel's own origin only (connect-src
// 'self' covers the console's WebSocket), QR codes as data: images, and no
// framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Viewer is the signed-in user a page is rendered for.
type Viewer struct {
	ID       string
	Username string
	Email    string
	Admin    bool
}

// Page is what every template is executed with.
type Page struct {
	// Title is the page's title, without the product's name.
	Title string
	// Section names the navigation entry to mark as current.
	Section string
	// Viewer is nil on the sign-in and error pages of a stranger.
	Viewer *Viewer
	// Data is the page's own data.
	Data any
}

// asset is one static file, ready to serve.
type asset struct {
	body, gzipped []byte
	contentType   string
}

// Site is the parsed UI.
type Site struct {
	pages  map[string]*template.Template
	assets map[string]asset  // by hashed file name
	urls   map[string]string // file name -> /static/<hashed name>
}

// New parses the templates and hashes the static files.
func New() (*Site, error) {
	s := &Site{pages: map[string]*template.Template{}, assets: map[string]asset{}, urls: map[string]string{}}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	if err := s.loadPages(); err != nil {
		return nil, err
	}
	return s, nil
}

// MustNew is New for a UI that is known to parse: it is embedded.
func MustNew() *Site {
	s, err := New()
	if err != nil {
		panic(err)
	}
	return s
}

func (s *Site) loadAssets() error {
	return fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.assets[hashed] = asset{body: body, gzipped: z.Bytes(), contentType: ct}
		s.urls[name] = "/static/" + hashed
		return nil
	})
}

func (s *Site) loadPages() error {
	funcs := template.FuncMap{
		"asset": s.AssetURL,
		"bytes": FormatBytes,
		"mib":   func(n int64) string { return FormatBytes(n << 20) },
		"time":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	}
	pages, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials/*.html", p)
		if err != nil {
			return err
		}
		s.pages[name] = t
	}
	return nil
}

// AssetURL is the content-hashed URL of a static file, named by its path
// under static/. An unknown name panics when the template runs: it is a
// typo in an embedded template.
func (s *Site) AssetURL(name string) (string, error) {
	u, ok := s.urls[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return u, nil
}

// AssetBytes is the total size, uncompressed, of the static files whose
// names end in one of exts (".js", ".css").
func (s *Site) AssetBytes(exts ...string) int {
	n := 0
	for name, a := range s.assets {
		for _, ext := range exts {
			if strings.HasSuffix(name, ext) {
				n += len(a.body)
			}
		}
	}
	return n
}

// ServeAsset answers GET /static/{file}: the hashed name's file, cached for
// a year, since its name changes with its content.
func (s *Site) ServeAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	body := a.body
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// SetHeaders sets the security headers of a page.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// Render answers with the page template name executed on p. The page is
// rendered into a buffer first, so that a template error is returned with
// nothing written, for the caller to answer, and not half a page.
func (s *Site) Render(w http.ResponseWriter, status int, name string, p Page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	SetHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes()) // a failed write is the client gone: nothing to answer
	return nil
}

// FormatBytes writes n bytes in binary units: "512 B", "1.5 KiB", "2.0 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
