// Package configfiles rewrites a game's own configuration files the way a
// template's config files ask (an egg's config.files): set this key of
// server.properties to the instance's port, that address of config.yml to
// the bind address. The node does it before every start. The package only
// transforms bytes; reading and writing the files, inside the instance's
// data folder, is the caller's.
//
// Each parser edits the document in place and leaves the rest of it as it
// was, comments and order included, since the file belongs to the game and
// its owner: properties, ini and file edit lines; json and yaml edit a YAML
// node tree (JSON is read as YAML and written back as JSON); xml edits an
// etree document.
package configfiles

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The parsers, by the names eggs give them.
const (
	Properties = "properties"
	INI        = "ini"
	JSON       = "json"
	YAML       = "yaml"
	XML        = "xml"
	// File replaces every line that starts with Match by the value.
	File = "file"
)

// Parsers lists every parser, for messages.
var Parsers = []string{Properties, INI, JSON, YAML, XML, File}

// KnownParser reports whether name is one of Parsers.
func KnownParser(name string) bool {
	for _, p := range Parsers {
		if p == name {
			return true
		}
	}
	return false
}

// Kind is how a replacement's value was written: JSON and YAML keep it.
type Kind int

// The kinds of Value.
const (
	// String is a text value. In JSON and YAML a text that is a whole
	// number in decimal is written as a number, as Wings does, so that
	// "{{server.build.default.port}}" gives a port number.
	String Kind = iota
	// Number is a value written as a JSON number.
	Number
	// Bool is a value written as a JSON true or false.
	Bool
)

// Value is what a replacement sets.
type Value struct {
	Text string
	Kind Kind
}

// Replacement sets one key of a file.
type Replacement struct {
	// Match is the key: a dotted path for json, yaml and xml ("a.b[0].c",
	// with "*" for every child), the key for properties, "section.key" for
	// ini, and a line prefix for file.
	Match string
	// IfValue, when set, limits the replacement to a key that exists and
	// holds this value, or, written "regex:...", whose value matches the
	// expression; then only the part that matched is replaced, and the
	// value may use $1 and the like. Ignored by the file parser.
	IfValue string
	// Value is set. Its placeholders are already rendered (Render).
	Value Value
}

// Rewrite applies reps, in order, to content (empty for a file that does
// not exist yet) parsed as parser, and returns the new content. A file the
// parser cannot read is an error, and nothing is to be written.
func Rewrite(parser string, content []byte, reps []Replacement) ([]byte, error) {
	switch parser {
	case Properties:
		return rewriteProperties(content, reps), nil
	case INI:
		return rewriteINI(content, reps), nil
	case JSON:
		return rewriteJSON(content, reps)
	case YAML:
		return rewriteYAML(content, reps)
	case XML:
		return rewriteXML(content, reps)
	case File:
		return rewriteLines(content, reps), nil
	}
	return nil, fmt.Errorf("unknown parser %q (want one of %s)", parser, strings.Join(Parsers, ", "))
}

// CreatesMissing reports whether a missing file is created for parser: for
// every parser but file, whose replacements only change lines that exist,
// so that a new file would be empty (and might keep the game from writing
// its defaults).
func CreatesMissing(parser string) bool { return parser != File }

// condition is a replacement's IfValue, compiled.
type condition struct {
	literal string
	re      *regexp.Regexp
}

// compileCondition reads IfValue. An expression that does not compile is
// an error of the replacement, which is then skipped.
func compileCondition(ifValue string) (*condition, error) {
	if ifValue == "" {
		return nil, nil
	}
	if expr, ok := strings.CutPrefix(ifValue, "regex:"); ok {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("if_value %q: %w", ifValue, err)
		}
		return &condition{re: re}, nil
	}
	return &condition{literal: ifValue}, nil
}

// apply returns what the key holding current becomes, and whether the
// replacement applies to it.
func (c *condition) apply(current string, v Value) (Value, bool) {
	switch {
	case c == nil:
		return v, true
	case c.re != nil:
		if !c.re.MatchString(current) {
			return v, false
		}
		return Value{Text: c.re.ReplaceAllString(current, v.Text)}, true
	default:
		return v, current == c.literal
	}
}

// isInteger reports whether s is a whole number in decimal, as Wings'
// strconv.Atoi test reads one.
func isInteger(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
