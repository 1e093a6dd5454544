package panel

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// The lists (users, instances, nodes, images) answer a JSON array, as the
// seed's do. With ?limit=N the array is a page of at most N, and the
// next page, when there is one, is named in the header
// Link: <path?limit=N&after=CURSOR&filters>; rel="next". Without it the
// array is the whole list, streamed: read from the database a batch at a
// time and written as it is encoded, so that neither the panel's memory
// nor a database connection is held for the whole of a long list.

// maxListPage bounds ?limit.
const maxListPage = 1000

// streamBatch is how many rows a streamed list reads per query: enough
// to make the queries few, few enough that a batch weighs little.
const streamBatch = 500

// flushBytes is how much of a streamed list is gathered before it is
// written out. The status goes with the first write, so a list that
// fails before that still answers its error.
const flushBytes = 32 << 10

// listQuery is what a request asks of a list: the page, and its query
// for the filters and the next page's link.
type listQuery struct {
	page  store.Page
	query url.Values
}

// readListQuery reads ?limit and ?after.
func readListQuery(r *http.Request) (listQuery, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return listQuery{}, fault.InvalidField("query", "is malformed")
	}
	lq := listQuery{query: q}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > maxListPage {
			return lq, fault.InvalidField("limit", "must be a whole number from 1 to %d", maxListPage)
		}
		lq.page.Limit = n
	}
	if q.Has("after") {
		c, ok := decodeCursor(q.Get("after"))
		if !ok {
			return lq, fault.InvalidField("after", "must be the cursor of a next page's link")
		}
		lq.page.After = c
	}
	return lq, nil
}

// maxCursorKey bounds a cursor's key: an id, or a template's name.
const maxCursorKey = 256

// encodeCursor is the opaque ?after of the page after the row at c.
func encodeCursor(c store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At, 10) + "." + c.Key))
}

// decodeCursor reads encodeCursor's form. The key is held to the rules
// of an id in a path, for PostgreSQL refuses a NUL or invalid UTF-8.
func decodeCursor(s string) (store.Cursor, bool) {
	if len(s) > 2*maxCursorKey {
		return store.Cursor{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.Cursor{}, false
	}
	at, key, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || key == "" || len(key) > maxCursorKey || !utf8.ValidString(key) ||
		strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return store.Cursor{}, false
	}
	return store.Cursor{At: n, Key: key}, true
}

// filterText reads the filter parameter name: printable text of at most
// maxID bytes, "" when absent.
func filterText(q url.Values, name string) (string, error) {
	v := q.Get(name)
	if len(v) > maxID || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", fault.InvalidField(name, "must be at most %d bytes of printable text", maxID)
	}
	return v, nil
}

// filterWord reads the filter parameter name, which must be one of words
// when present.
func filterWord(q url.Values, name string, words ...string) (string, error) {
	v := q.Get(name)
	for _, w := range words {
		if v == w {
			return v, nil
		}
	}
	if v == "" {
		return "", nil
	}
	return "", fault.InvalidField(name, "must be one of %s", strings.Join(words, ", "))
}

// cursored is a row of a list: it knows its place in it.
type cursored interface{ Cursor() store.Cursor }

// writeList answers a list as lq asks: the page, with the next page's
// Link, or the whole list streamed. fetch reads a page of the list, in
// the order of its rows' cursors; view shapes a row for the answer. Every
// list goes through here: a new one needs only its store's page (see
// store.Store.pageQuery) and these two functions.
func writeList[T cursored](s *Server, w http.ResponseWriter, r *http.Request, lq listQuery,
	fetch func(store.Page) ([]T, error), view func(T) (any, error)) error {
	out := arrayWriter{w: w}
	var err error
	if lq.page.Limit > 0 {
		err = writePage(&out, r, lq, fetch, view)
	} else {
		err = streamList(&out, lq.page.After, fetch, view)
	}
	if err == nil || !out.started {
		return err
	}
	// Part of the array is out, under a 200: only a cut connection tells
	// the client that the rest is missing.
	if !errors.Is(err, errWrite) {
		s.logError(r, "list failed while streaming", err)
	}
	panic(http.ErrAbortHandler)
}

// writePage writes the page lq asks for to out, and names the next page
// in the Link header when there is one.
func writePage[T cursored](out *arrayWriter, r *http.Request, lq listQuery, fetch func(store.Page) ([]T, error), view func(T) (any, error)) error {
	// One row beyond the page tells whether another follows, so the last
	// page has no link to an empty one.
	rows, err := fetch(store.Page{Limit: lq.page.Limit + 1, After: lq.page.After})
	if err != nil {
		return err
	}
	if len(rows) > lq.page.Limit {
		rows = rows[:lq.page.Limit]
		setNextLink(out.w, r, lq.query, lq.page.Limit, encodeCursor(rows[len(rows)-1].Cursor()))
	}
	if err := addRows(out, rows, view); err != nil {
		return err
	}
	return out.close()
}

// setNextLink names the next page in the Link header: the request's
// path and query, with limit and after set.
func setNextLink(w http.ResponseWriter, r *http.Request, query url.Values, limit int, after string) {
	next := make(url.Values, len(query)+2)
	for k, v := range query {
		next[k] = v
	}
	next.Set("limit", strconv.Itoa(limit))
	next.Set("after", after)
	w.Header().Set("Link", "<"+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
}

// addRows adds each row's view to out.
func addRows[T any](out *arrayWriter, rows []T, view func(T) (any, error)) error {
	for _, row := range rows {
		v, err := view(row)
		if err != nil {
			return err
		}
		if err := out.add(v); err != nil {
			return err
		}
	}
	return nil
}

// streamList writes the whole list after after to out, a batch at a
// time.
func streamList[T cursored](out *arrayWriter, after store.Cursor, fetch func(store.Page) ([]T, error), view func(T) (any, error)) error {
	p := store.Page{Limit: streamBatch, After: after}
	for {
		rows, err := fetch(p)
		if err != nil {
			return err
		}
		if err := addRows(out, rows, view); err != nil {
			return err
		}
		if len(rows) < p.Limit {
			return out.close()
		}
		p.After = rows[len(rows)-1].Cursor()
	}
}

// errWrite marks a failure to write the answer: the client has gone.
var errWrite = errors.New("write answer")

// arrayWriter writes a JSON array to an answer an element at a time,
// byte for byte what encoding/json writes for the whole slice: each
// element encoded as json.Marshal does, commas between, a newline after
// the closing bracket.
type arrayWriter struct {
	w   http.ResponseWriter
	buf []byte
	// n counts the elements added.
	n int
	// started is set once the status and a first part are written.
	started bool
}

// add appends v to the array.
func (a *arrayWriter) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if a.n == 0 {
		a.buf = append(a.buf, '[')
	} else {
		a.buf = append(a.buf, ',')
	}
	a.n++
	a.buf = append(a.buf, b...)
	if len(a.buf) >= flushBytes {
		return a.flush()
	}
	return nil
}

// close ends the array and writes what remains.
func (a *arrayWriter) close() error {
	if a.n == 0 {
		a.buf = append(a.buf, '[')
	}
	a.buf = append(a.buf, "]\n"...)
	return a.flush()
}

// flush writes out what was gathered, after the status the first time.
func (a *arrayWriter) flush() error {
	if !a.started {
		a.w.Header().Set("Content-Type", "application/json")
		a.w.WriteHeader(http.StatusOK)
		a.started = true
	}
	if _, err := a.w.Write(a.buf); err != nil {
		return errors.Join(errWrite, err)
	}
	a.buf = a.buf[:0]
	// A writer that cannot flush (a test's recorder) keeps it all, which
	// changes nothing of what is answered.
	http.NewResponseController(a.w).Flush()
	return nil
}
