package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests drive Debian's chromium, headless, through the Chrome
// DevTools Protocol (chromedp) against a panel the cluster harness started.
// They live here rather than in a package of their own because every flow
// they will check (deploy, console, power, files) needs the real panel and
// node processes on Docker that this package already runs.
//
// Environment:
//   - BERTH_CHROMIUM: the browser binary; else chromium is looked up in PATH.
//   - BERTH_REQUIRE_BROWSER=1: a missing browser fails the test instead of
//     skipping it (CI sets it).
//   - BERTH_SCREENSHOTS: the folder for the screenshots taken when a browser
//     test fails, one subfolder per test; else a new folder under the
//     system's temporary folder, kept and named in the test's log.

// Viewport widths every page must hold: a small phone and a laptop.
const (
	narrowWidth = 375
	wideWidth   = 1280
	viewHeight  = 900
)

// browserTimeout bounds one wait or one action of a browser test.
const browserTimeout = 20 * time.Second

// browser is one headless chromium, its own for one test, with one tab.
// Every JavaScript exception, console error and browser-log error of the
// tab (CSP violations and failed loads included) is collected, and the
// test fails with them; a failing test leaves screenshots behind.
type browser struct {
	tb   testing.TB
	ctx  context.Context
	base string // the panel's URL, without a trailing slash

	mu sync.Mutex
	// problems are the errors the page logged that no check has reported yet.
	problems []string
	// responses is the resource type and status of each response, by
	// request, so that a failed load can be judged.
	responses map[network.RequestID]loadResult
	// expected are document URLs whose error status the test asked for.
	expected map[string]bool

	shotDir string
	shots   int
}

// loadResult is what one network request answered.
type loadResult struct {
	kind   network.ResourceType
	status int64
}

// chromiumPath finds the browser, or skips the test (fails it when
// BERTH_REQUIRE_BROWSER=1).
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("BERTH_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("BERTH_CHROMIUM: %v", err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BERTH_REQUIRE_BROWSER") == "1" {
		tb.Fatal("no chromium found (set BERTH_CHROMIUM) and BERTH_REQUIRE_BROWSER=1")
	}
	tb.Skip("no chromium found: install Debian's chromium or set BERTH_CHROMIUM; browser tests skipped")
	return ""
}

// newBrowser starts a headless chromium for the test, at 1280 px wide,
// with a fresh profile, pointed at the panel at base. It is stopped when the
// test ends, after a screenshot if the test failed.
func newBrowser(tb testing.TB, base string) *browser {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(wideWidth, viewHeight),
		chromedp.Flag("lang", "en-US"),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{tb: tb, base: strings.TrimSuffix(base, "/"), responses: map[network.RequestID]loadResult{},
		expected: map[string]bool{}}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.observe))
	b.ctx = ctx
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Registered after the browser's stop, so it runs before it.
	tb.Cleanup(b.finish)
	// A headless tab has no window focus, so the keyboard would move no
	// focus and :focus-visible would never match without emulating it.
	focus := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(wideWidth, viewHeight), focus); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return b
}

// observe records the tab's errors. It runs on chromedp's reading
// goroutine, so it only takes notes.
func (b *browser) observe(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + firstLine(d.Exception.Description)
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, remoteText(a))
			}
			b.problems = append(b.problems, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *network.EventResponseReceived:
		b.responses[ev.RequestID] = loadResult{kind: ev.Type, status: ev.Response.Status}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level == log.EntryLevelError && !b.handled(e) {
			b.problems = append(b.problems, fmt.Sprintf("%s error at %s: %s", e.Source, e.URL, e.Text))
		}
	}
}

// handled reports whether a browser-log error is a failed load the page
// expects: an API answer of 4xx to a fetch, which the page shows to the
// user (a wrong password, a refused form), or a document whose error status
// the test asked for (the 404 page). A failed script, stylesheet or image,
// a 5xx, or a CSP violation is never handled.
func (b *browser) handled(e *log.Entry) bool {
	if e.Source != log.EntrySourceNetwork || e.NetworkRequestID == "" {
		return false
	}
	res, ok := b.responses[e.NetworkRequestID]
	if !ok {
		return false
	}
	switch res.kind {
	case network.ResourceTypeFetch, network.ResourceTypeXHR:
		return res.status >= 400 && res.status < 500
	case network.ResourceTypeDocument:
		return b.expected[e.URL]
	}
	return false
}

// remoteText is how the console shows one argument.
func remoteText(o *runtime.RemoteObject) string {
	if o.Description != "" {
		return firstLine(o.Description)
	}
	var s string
	if json.Unmarshal(o.Value, &s) == nil {
		return s
	}
	return string(o.Value)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// takeProblems returns and forgets the errors logged so far.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := b.problems
	b.problems = nil
	return list
}

// checkErrors fails the test with every error the page logged since the
// last check, naming the page.
func (b *browser) checkErrors() {
	b.tb.Helper()
	list := b.takeProblems()
	if len(list) == 0 {
		return
	}
	b.errorf("%s logged %d errors in the browser:\n  %s", b.path(), len(list), strings.Join(list, "\n  "))
}

// finish reports the errors no check has reported, and leaves a
// screenshot of the last page if the test failed.
func (b *browser) finish() {
	b.checkErrors()
	if b.tb.Failed() {
		b.screenshot("last")
	}
}

// errorf fails the test and saves a screenshot of the page as it is.
func (b *browser) errorf(format string, args ...any) {
	b.tb.Helper()
	b.tb.Errorf(format, args...)
	b.screenshot("error")
}

// fatalf is errorf that stops the test.
func (b *browser) fatalf(format string, args ...any) {
	b.tb.Helper()
	b.errorf(format, args...)
	b.tb.FailNow()
}

// screenshot saves the whole page as a PNG in the test's screenshot folder
// and logs where.
func (b *browser) screenshot(name string) {
	b.tb.Helper()
	dir, err := b.screenshotDir()
	if err != nil {
		b.tb.Logf("screenshot: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.tb.Logf("screenshot: %v", err)
		return
	}
	b.shots++
	file := filepath.Join(dir, fmt.Sprintf("%02d-%s-%s.png", b.shots, name, pathSlug(b.path())))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.tb.Logf("screenshot: %v", err)
		return
	}
	b.tb.Logf("screenshot of %s: %s", b.path(), file)
}

// screenshotDir is $BERTH_SCREENSHOTS/<test>, or a new kept folder.
func (b *browser) screenshotDir() (string, error) {
	if b.shotDir != "" {
		return b.shotDir, nil
	}
	var err error
	if root := os.Getenv("BERTH_SCREENSHOTS"); root != "" {
		b.shotDir = filepath.Join(root, pathSlug(b.tb.Name()))
		err = os.MkdirAll(b.shotDir, 0o755)
	} else {
		b.shotDir, err = os.MkdirTemp("", "berth-screenshots-")
	}
	return b.shotDir, err
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// pathSlug makes a file name of a path or a test name.
func pathSlug(s string) string {
	s = strings.Trim(unsafeName.ReplaceAllString(s, "_"), "_")
	if s == "" {
		return "root"
	}
	return s
}

// run runs browser actions within browserTimeout.
func run[T any](b *browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do is run for actions without a value, failing the test on an error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	if _, err := run(b, chromedp.Steps(steps...)); err != nil {
		b.fatalf("%s on %s: %v", what, b.path(), err)
	}
}

// eval evaluates a JavaScript expression on the page and returns its value.
func eval[T any](b *browser, js string) T {
	b.tb.Helper()
	v, err := run(b, chromedp.Evaluate[T](js))
	if err != nil {
		b.fatalf("evaluate on %s: %v\n%s", b.path(), err, js)
	}
	return v
}

// path is the current page's path and query, "" before the first page.
func (b *browser) path() string {
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown page)"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.RequestURI()
}

// load opens path on the panel and returns the HTTP status of the page;
// an error status is expected, not logged as a problem.
func (b *browser) load(path string) int {
	b.tb.Helper()
	target := b.base + path
	b.mu.Lock()
	b.expected[target] = true
	b.mu.Unlock()
	resp, err := run(b, chromedp.NavigateResponse(target))
	if err != nil {
		b.fatalf("open %s: %v", path, err)
	}
	if resp == nil {
		b.fatalf("open %s: no response", path)
	}
	return int(resp.Status)
}

// open opens path and fails the test unless the page answers 200 and logs
// no error.
func (b *browser) open(path string) {
	b.tb.Helper()
	if status := b.load(path); status != http.StatusOK {
		b.fatalf("open %s: status %d, want 200", path, status)
	}
	b.checkErrors()
}

// waitFor polls the JavaScript condition js until it is true, failing the
// test with what when browserTimeout passes first. A page navigating
// meanwhile is just not ready yet.
func (b *browser) waitFor(what, js string) {
	b.tb.Helper()
	b.waitForWithin(browserTimeout, what, js)
}

// waitForWithin is waitFor with its own timeout, for what the page shows
// only once the server has done something slow (an install, a start).
func (b *browser) waitForWithin(timeout time.Duration, what, js string) {
	b.tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, err := run(b, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fatalf("waited %s for %s on %s (last error: %v)", timeout, what, b.path(), err)
		}
		<-tick.C
	}
}

// waitText waits until the page shows text (visible, anywhere in the body).
func (b *browser) waitText(text string) {
	b.tb.Helper()
	b.waitFor("the text "+quote(text), "document.body !== null && document.body.innerText.includes("+quote(text)+")")
	b.checkErrors()
}

// waitPath waits until the browser is on path (the query aside).
func (b *browser) waitPath(path string) {
	b.tb.Helper()
	b.waitFor("the page "+path, "document.readyState === 'complete' && location.pathname === "+quote(path))
	b.checkErrors()
}

// quote makes a JavaScript string literal of s.
func quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// visibleByText is a JavaScript expression that gives the visible buttons
// and links whose text (or aria-label) is exactly text.
func visibleByText(text string) string {
	return `[...document.querySelectorAll("button, a[href], input[type=submit], [role=button]")].filter(el =>
		el.getClientRects().length > 0 &&
		[el.innerText, el.value, el.getAttribute("aria-label")].some(t => t && t.trim() === ` + quote(text) + `))`
}

// click clicks, with the mouse, the one visible button or link whose text
// is text.
func (b *browser) click(text string) {
	b.tb.Helper()
	b.waitFor("one button or link "+quote(text), visibleByText(text)+".length === 1")
	b.do("click "+quote(text), chromedp.Click(chromedp.JSPath(visibleByText(text)+"[0]")))
}

// controlByLabel is a JavaScript expression that gives the form controls
// whose label reads exactly text.
func controlByLabel(text string) string {
	return `[...document.querySelectorAll("label")].filter(l => l.control &&
		[...l.childNodes].filter(n => n.nodeType === Node.TEXT_NODE || !n.matches("input, select, textarea"))
			.map(n => n.textContent).join("").trim() === ` + quote(text) + `).map(l => l.control)`
}

// fill types value into the visible field labelled text, replacing what
// it held. The field is emptied through its value, as deleting its text
// would, and not with chromedp.Clear, which empties the value attribute
// only: that leaves a value typed or set by a script in place.
func (b *browser) fill(label, value string) {
	b.tb.Helper()
	field := controlByLabel(label)
	b.waitFor("a visible field labelled "+quote(label), field+".filter(c => c.getClientRects().length > 0).length === 1")
	eval[bool](b, `(() => { const c = `+field+`[0]; c.value = ""; c.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`)
	b.do("fill "+quote(label), chromedp.SendKeys(chromedp.JSPath(field+"[0]"), value))
}

// press sends one key to the focused element, as the keyboard would.
func (b *browser) press(key string) {
	b.tb.Helper()
	b.do("press a key", chromedp.KeyEvent(key))
}

// tab presses the Tab key.
func (b *browser) tab() { b.press(kb.Tab) }

// viewport sets the width of the page's viewport.
func (b *browser) viewport(width int64) {
	b.tb.Helper()
	b.do(fmt.Sprintf("set the viewport to %d px", width), chromedp.EmulateViewport(width, viewHeight))
}

// signIn signs in through the form of the sign-in page, giving the
// two-factor code when code is not "", and waits for the page that follows.
func (b *browser) signIn(username, password, code string) {
	b.tb.Helper()
	b.open("/login")
	b.fill("Username or email", username)
	b.fill("Password", password)
	b.click("Sign in")
	if code != "" {
		b.fill("Two-factor code", code)
		b.click("Sign in")
	}
	b.waitFor("the page after signing in", "document.readyState === 'complete' && location.pathname !== '/login'")
	b.checkErrors()
}

// signOut signs out with the navigation's button and waits for the
// sign-in page.
func (b *browser) signOut() {
	b.tb.Helper()
	b.click("Sign out")
	b.waitPath("/login")
}

// focusSteps is how many times the focus check presses Tab.
const focusSteps = 3

// pageFaults checks the page as it is against the rules every page follows
// (DESIGN §9): exactly one h1, a label for every form control, a visible
// focus for the keyboard, and no horizontal scroll at 375 px. It returns
// what is wrong, empty when nothing is.
func (b *browser) pageFaults() []string {
	b.tb.Helper()
	var faults []string
	if n := eval[int](b, `document.querySelectorAll("h1").length`); n != 1 {
		faults = append(faults, fmt.Sprintf("%d h1 elements, want exactly 1", n))
	}
	const unlabeled = `[...document.querySelectorAll("input, select, textarea")]
		.filter(c => !["hidden", "submit", "button", "reset", "image"].includes(c.type))
		.filter(c => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.getAttribute("aria-labelledby"))
		.map(c => c.outerHTML.slice(0, 120))`
	for _, c := range eval[[]string](b, unlabeled) {
		faults = append(faults, "a form control without a label: "+c)
	}
	faults = append(faults, b.focusFaults()...)
	if over := b.horizontalOverflow(narrowWidth); over != "" {
		faults = append(faults, fmt.Sprintf("scrolls horizontally at %d px: %s", narrowWidth, over))
	}
	return faults
}

// focusFaults presses Tab a few times from the top of the page and checks
// that each element the keyboard reaches shows an outline. Past the last
// element the focus leaves the page, which ends the check.
func (b *browser) focusFaults() []string {
	b.tb.Helper()
	eval[bool](b, `document.activeElement && document.activeElement.blur(), window.scrollTo(0, 0), true`)
	const focused = `(() => {
		const el = document.activeElement;
		if (!el || el === document.body) return document.querySelector("a[href], button, input, select, textarea") ? "none" : "end";
		const s = getComputedStyle(el);
		if (s.outlineStyle === "none" || parseFloat(s.outlineWidth) === 0)
			return "no visible focus on " + el.outerHTML.slice(0, 120);
		return "";
	})()`
	for i := range focusSteps {
		b.tab()
		switch f := eval[string](b, focused); {
		case f == "":
		case f == "end" || f == "none" && i > 0:
			return nil
		case f == "none":
			return []string{"Tab focuses nothing"}
		default:
			return []string{"after Tab, " + f}
		}
	}
	return nil
}

// horizontalOverflow is "" when the page fits the viewport at width, and
// otherwise the widths and the last elements that stick out.
func (b *browser) horizontalOverflow(width int64) string {
	b.tb.Helper()
	b.viewport(width)
	defer b.viewport(wideWidth)
	const js = `(() => {
		const d = document.documentElement;
		if (d.scrollWidth <= d.clientWidth) return "";
		const wide = [...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > d.clientWidth + 1)
			.slice(-3).map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : ""));
		return "scrollWidth " + d.scrollWidth + " > clientWidth " + d.clientWidth + " (" + wide.join(", ") + ")";
	})()`
	return eval[string](b, js)
}

// checkPage fails the test with every fault of the page (see pageFaults)
// and every error it logged.
func (b *browser) checkPage() {
	b.tb.Helper()
	if faults := b.pageFaults(); len(faults) > 0 {
		b.errorf("%s:\n  %s", b.path(), strings.Join(faults, "\n  "))
	}
	b.checkErrors()
}
