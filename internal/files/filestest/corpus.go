// Package filestest holds what the tests of every file-serving surface
// share: the path-traversal corpus of package files (testdata), read in
// one place, so that the file API and SFTP are held to the same cases.
package filestest

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Case is one line of the corpus: a category (escape, escape-ro, link,
// link-ro, archive) and a path.
type Case struct {
	Category string
	Path     string
}

// Corpus reads files/testdata/traversal.txt, whose header explains the
// categories and the sandbox they assume.
func Corpus(t testing.TB) []Case {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(here), "..", "testdata", "traversal.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []Case
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cat, quoted, ok := strings.Cut(line, " ")
		p, err := strconv.Unquote(quoted)
		if !ok || err != nil {
			t.Fatalf("corpus line %q: want a category and a Go-quoted path", line)
		}
		cases = append(cases, Case{cat, p})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}
