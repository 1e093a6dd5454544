package e2e

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/web"
)

// harnessPages serves the pages the harness's own tests open, under the
// panel's CSP: each breaks it in one way, except "/clean".
func harnessPages() http.Handler {
	pages := map[string]string{
		"/clean":     `<h1>Clean</h1><label for="a">A</label><input id="a">`,
		"/inline":    `<h1>Inline</h1><script>document.title = "ran";</script>`,
		"/style":     `<h1 style="color: red">Style</h1>`,
		"/throw":     `<h1>Throw</h1><script src="/throw.js"></script>`,
		"/console":   `<h1>Console</h1><script src="/console.js"></script>`,
		"/missing":   `<h1>Missing</h1><script src="/nothing.js"></script>`,
		"/refused":   `<h1>Refused</h1><script src="/refused.js"></script>`,
		"/wide":      `<h1>Wide</h1><div class="wide">x</div><link rel="stylesheet" href="/wide.css">`,
		"/unlabeled": `<h1>One</h1><label>B <input id="b"></label><input id="c"><textarea aria-label="D"></textarea>`,
		"/twoh1":     `<h1>One</h1><h1>Two</h1><a href="/clean">Clean</a>`,
		"/nofocus":   `<h1>No focus</h1><link rel="stylesheet" href="/nofocus.css"><a href="/clean">Clean</a>`,
	}
	scripts := map[string]string{
		"/throw.js":    `null.boom();`,
		"/console.js":  `console.error("something broke");`,
		"/refused.js":  `fetch("/api/refuse").then(r => { document.title = "refused " + r.status; });`,
		"/nofocus.css": `:focus { outline: none; }`,
		"/wide.css":    `.wide { width: 2000px; }`,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.SetHeaders(w.Header())
		if body, ok := pages[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<!doctype html><html lang=en><title>t</title>" + body))
			return
		}
		if body, ok := scripts[r.URL.Path]; ok {
			ct := "text/javascript"
			if strings.HasSuffix(r.URL.Path, ".css") {
				ct = "text/css"
			}
			w.Header().Set("Content-Type", ct)
			w.Write([]byte(body))
			return
		}
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path == "/api/refuse" {
			http.Error(w, `{"error":"password: wrong"}`, http.StatusUnauthorized)
			return
		}
		http.NotFound(w, r)
	})
}

// harnessCase is one page of harnessPages and what a check finds on it.
type harnessCase struct {
	path string
	// want is in every finding, of which there must be at least one (an
	// unsafe page also logs what the browser refused to run); "" means none.
	want string
}

// expectFindings opens each case's page and fails t unless find, run on
// it, finds what the case wants.
func expectFindings(t *testing.T, b *browser, cases []harnessCase, find func(path string) []string) {
	t.Helper()
	for _, tc := range cases {
		b.load(tc.path)
		got := find(tc.path)
		switch {
		case tc.want == "" && len(got) != 0:
			t.Errorf("%s: found %q, want nothing", tc.path, got)
		case tc.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }):
			t.Errorf("%s: found %q, want one holding %q", tc.path, got, tc.want)
		}
	}
}

// TestBrowserHarnessCollectsPageErrors checks that what the harness calls a
// page error is: exceptions, console errors, CSP violations and failed
// loads, but not an API's 4xx that the page handles.
func TestBrowserHarnessCollectsPageErrors(t *testing.T) {
	srv := httptest.NewServer(harnessPages())
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)
	expectFindings(t, b, []harnessCase{
		{"/clean", ""},
		{"/inline", "Content Security Policy"},
		{"/style", "Content Security Policy"},
		{"/throw", "exception"},
		{"/console", "console.error: something broke"},
		{"/missing", "nothing.js"},
		{"/refused", ""},
	}, func(path string) []string {
		if path == "/refused" {
			b.waitFor("the refused fetch", `document.title === "refused 401"`)
		}
		return b.takeProblems()
	})
}

// TestBrowserHarnessFindsPageFaults checks that each rule of pageFaults
// catches the page that breaks it, and passes a page that keeps them all.
func TestBrowserHarnessFindsPageFaults(t *testing.T) {
	srv := httptest.NewServer(harnessPages())
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)
	expectFindings(t, b, []harnessCase{
		{"/clean", ""},
		{"/twoh1", "2 h1 elements"},
		{"/unlabeled", `without a label: <input id="c">`},
		{"/nofocus", "no visible focus"},
		{"/wide", "scrolls horizontally at 375 px"},
	}, func(string) []string { return b.pageFaults() })
}
