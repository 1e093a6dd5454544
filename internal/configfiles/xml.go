package configfiles

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/beevik/etree"
)

// An XML file is edited with etree, as Wings does: a Match is an element
// path with dots for slashes, from the root element ("Settings.Port" is
// <Settings><Port>), evaluated by etree, so "*" and etree's filters work.
// A path without "*" is created where it is missing (the root too, in an
// empty file). The value becomes the element's text, or, written
// [name='value'], its attribute name. The file keeps its layout unless
// elements were created; it is then indented with four spaces as Wings
// indents it.

// xmlAttribute matches a value that sets an attribute: [name='value'].
var xmlAttribute = regexp.MustCompile(`^\[(\w+)='(.*)'\]$`)

// rewriteXML applies reps to an XML file.
func rewriteXML(content []byte, reps []Replacement) ([]byte, error) {
	doc := etree.NewDocument()
	if strings.TrimSpace(string(content)) != "" {
		if err := doc.ReadFromBytes(content); err != nil {
			return nil, fmt.Errorf("not valid XML: %w", err)
		}
	}
	created := false
	if doc.Root() == nil {
		doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
		created = true
	}
	for _, r := range reps {
		cond, err := compileCondition(r.IfValue)
		if err != nil || r.Match == "" {
			continue
		}
		if cond == nil && !strings.Contains(r.Match, "*") {
			created = createXMLPath(doc, r.Match) || created
		}
		path, err := etree.CompilePath("./" + strings.ReplaceAll(r.Match, ".", "/"))
		if err != nil {
			continue
		}
		for _, e := range doc.FindElementsPath(path) {
			setXML(e, cond, r.Value)
		}
	}
	if created {
		doc.Indent(4)
	}
	return doc.WriteToBytes()
}

// createXMLPath makes the elements of a plain path that are missing,
// reporting whether it made any. A path whose parts are not plain names
// (etree filters) is left to match what exists.
func createXMLPath(doc *etree.Document, match string) bool {
	parts := strings.Split(match, ".")
	for _, p := range parts {
		if !xmlName.MatchString(p) {
			return false
		}
	}
	created := false
	e := doc.Root()
	switch {
	case e == nil:
		e = doc.CreateElement(parts[0])
		created = true
	case e.Tag != parts[0]:
		// The path names another root: it matches nothing.
		return false
	}
	for _, p := range parts[1:] {
		next := e.SelectElement(p)
		if next == nil {
			next = e.CreateElement(p)
			created = true
		}
		e = next
	}
	return created
}

// xmlName matches an element name a path can create.
var xmlName = regexp.MustCompile(`^[A-Za-z_][\w.:-]*$`)

// setXML sets element e's text, or an attribute, to v if cond lets it.
// The condition is checked against the element's text.
func setXML(e *etree.Element, cond *condition, v Value) {
	v, ok := cond.apply(e.Text(), v)
	if !ok {
		return
	}
	if m := xmlAttribute.FindStringSubmatch(v.Text); m != nil {
		e.CreateAttr(m[1], m[2])
		return
	}
	e.SetText(v.Text)
}
