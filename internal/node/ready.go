package node

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// readiness holds a template's ready patterns, compiled: an instance is
// starting until one of them matches a line of its output, then running.
type readiness struct {
	substrings [][]byte
	regexps    []*regexp.Regexp
}

// compileReadiness reads nodeapi.InstanceSpec.ReadyPatterns: a substring,
// or "regex:" and a Go regular expression. An unreadable pattern is skipped
// and reported; the others still count.
func compileReadiness(patterns []string) (readiness, error) {
	var r readiness
	var bad error
	for _, p := range patterns {
		if expr, ok := strings.CutPrefix(p, "regex:"); ok {
			re, err := regexp.Compile(expr)
			if err != nil {
				bad = fmt.Errorf("ready pattern %q: %w", p, err)
				continue
			}
			r.regexps = append(r.regexps, re)
			continue
		}
		if p != "" {
			r.substrings = append(r.substrings, []byte(p))
		}
	}
	return r, bad
}

// any reports whether there is a pattern to wait for.
func (r readiness) any() bool { return len(r.substrings)+len(r.regexps) > 0 }

// match reports whether line shows a pattern. Colour and cursor escapes
// are removed first, as a template author writes the pattern without them.
func (r readiness) match(line []byte) bool {
	if bytes.IndexByte(line, 0x1b) >= 0 {
		line = stripANSI(line)
	}
	for _, s := range r.substrings {
		if bytes.Contains(line, s) {
			return true
		}
	}
	for _, re := range r.regexps {
		if re.Match(line) {
			return true
		}
	}
	return false
}

// stripANSI removes ANSI escape sequences (CSI "ESC [ ... final", and
// two-byte escapes) from b, into a new slice.
func stripANSI(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0x1b {
			out = append(out, b[i])
			continue
		}
		if i+1 < len(b) && b[i+1] == '[' {
			i += 2
			for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
				i++
			}
			continue
		}
		i++ // a two-byte escape: skip the byte after ESC
	}
	return out
}
