package configfiles

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// A Java .properties file is edited line by line, so that its comments and
// order stay (Wings rewrites it whole and keeps only the first comments).
// A replaced key is written again as key=value, escaped as Java's
// Properties.store escapes; a key the file lacks is added at its end.

// property is one key of the file: the physical lines [first, last] hold
// it (a line ending in an odd number of backslashes goes on).
type property struct {
	key, value  string
	first, last int
	// replaced is set once the property was written again, on its first
	// line alone.
	replaced bool
}

// rewriteProperties applies reps to a properties file.
func rewriteProperties(content []byte, reps []Replacement) []byte {
	l := splitLines(content)
	props := readProperties(l.text)
	grew := false
	for _, r := range reps {
		cond, err := compileCondition(r.IfValue)
		if err != nil {
			continue
		}
		found := false
		for i := range props {
			p := &props[i]
			if p.key != r.Match {
				continue
			}
			found = true
			v, ok := cond.apply(p.value, r.Value)
			if !ok {
				continue
			}
			p.value, p.replaced = v.Text, true
			l.text[p.first] = escapeProperty(p.key, true) + "=" + escapeProperty(v.Text, false)
		}
		if !found && cond == nil && r.Match != "" {
			l.text = append(l.text, escapeProperty(r.Match, true)+"="+escapeProperty(r.Value.Text, false))
			props = append(props, property{key: r.Match, value: r.Value.Text, first: len(l.text) - 1, last: len(l.text) - 1})
			grew = true
		}
	}
	return dropContinued(l, props).bytes(grew)
}

// dropContinued removes the continuation lines of the properties that
// were replaced: a value that went on over several lines now takes one.
func dropContinued(l lines, props []property) lines {
	skip := map[int]bool{}
	for _, p := range props {
		for j := p.first + 1; p.replaced && j <= p.last; j++ {
			skip[j] = true
		}
	}
	if len(skip) == 0 {
		return l
	}
	kept := l.text[:0:0]
	for i, line := range l.text {
		if !skip[i] {
			kept = append(kept, line)
		}
	}
	l.text = kept
	return l
}

// readProperties reads the keys of a properties file.
func readProperties(text []string) []property {
	var props []property
	for i := 0; i < len(text); i++ {
		line := strings.TrimLeft(text[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		first := i
		logical := line
		for continues(logical) && i+1 < len(text) {
			i++
			logical = logical[:len(logical)-1] + strings.TrimLeft(text[i], " \t\f")
		}
		key, value := splitProperty(logical)
		props = append(props, property{key: key, value: value, first: first, last: i})
	}
	return props
}

// continues reports whether a line ends in an odd number of backslashes.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line into its key and value, unescaped:
// the key ends at the first unescaped '=', ':' or white space.
func splitProperty(line string) (key, value string) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if strings.IndexByte("=: \t\f", line[i]) >= 0 {
			end = i
			break
		}
	}
	rest := strings.TrimLeft(line[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return unescapeProperty(line[:end]), unescapeProperty(rest)
}

// unescapeProperty undoes a properties file's escapes: \t \n \r \f,
// \uXXXX, and a backslash before any other character.
func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	var units []uint16
	flush := func() {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = units[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			flush()
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == 'u' && i+4 < len(s) && isHex(s[i+1:i+5]) {
			var u uint16
			fmt.Sscanf(s[i+1:i+5], "%04x", &u)
			units = append(units, u)
			i += 4
			continue
		}
		flush()
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(s[i])
		}
	}
	flush()
	return b.String()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
			return false
		}
	}
	return true
}

// escapeProperty escapes s as Properties.store does, as a key or a value:
// backslashes, line breaks and tabs; '=', ':', '#', '!' and spaces in a
// key; a leading space in a value; and everything outside printable ASCII
// as \uXXXX, which every Java version reads whatever the file's charset.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case key && strings.ContainsRune("=:#!", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
