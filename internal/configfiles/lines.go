package configfiles

import (
	"bytes"
	"strings"
)

// lines is a text file as lines, with the line ending it uses, so that an
// edit keeps Windows line endings where the file has them.
type lines struct {
	text []string
	eol  string
	// open is set when the last line has no line ending.
	open bool
}

// splitLines reads content as lines. An empty content has none.
func splitLines(content []byte) lines {
	l := lines{eol: "\n"}
	if bytes.Contains(content, []byte("\r\n")) {
		l.eol = "\r\n"
	}
	if len(content) == 0 {
		return l
	}
	s := string(content)
	if !strings.HasSuffix(s, "\n") {
		l.open = true
	} else {
		s = s[:len(s)-1]
	}
	for line := range strings.SplitSeq(s, "\n") {
		l.text = append(l.text, strings.TrimSuffix(line, "\r"))
	}
	return l
}

// bytes joins the lines again. A file that gained lines ends with a line
// ending even when it had none.
func (l lines) bytes(grew bool) []byte {
	if len(l.text) == 0 {
		return nil
	}
	out := strings.Join(l.text, l.eol)
	if !l.open || grew {
		out += l.eol
	}
	return []byte(out)
}

// rewriteLines is the file parser: every line that starts with a
// replacement's Match becomes its value (the first replacement that
// matches wins). Nothing is added.
func rewriteLines(content []byte, reps []Replacement) []byte {
	l := splitLines(content)
	for i, line := range l.text {
		for _, r := range reps {
			if r.Match != "" && strings.HasPrefix(line, r.Match) {
				l.text[i] = r.Value.Text
				break
			}
		}
	}
	return l.bytes(false)
}
