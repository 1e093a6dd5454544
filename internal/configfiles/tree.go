package configfiles

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// JSON and YAML files are edited as a YAML node tree, which keeps the
// order of keys and, for YAML, the comments (Wings goes through Go maps and
// loses both). A Match is a dotted path through it, as Wings reads one:
//
//   - "a.b.c" sets c in b in a, creating the mappings that are missing;
//   - "a[0].b" or "a.0.b" goes through element 0 of the sequence a; an
//     element one past the end is appended (element 0 of a missing
//     sequence creates it), any other missing element is left alone;
//   - "a.*.b" sets b in every child of a (each value of a mapping, each
//     element of a sequence) and creates nothing on the way.
//
// A replacement with an IfValue only changes a key that exists and holds a
// scalar.

// step is one part of a path.
type step struct {
	key      string
	index    int // -1: none
	wildcard bool
}

// indexed matches a path part with an index: "name[0]".
var indexed = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// parsePath splits a Match into its steps.
func parsePath(match string) []step {
	var steps []step
	for part := range strings.SplitSeq(match, ".") {
		if part == "*" {
			steps = append(steps, step{wildcard: true, index: -1})
			continue
		}
		var indexes []int
		for {
			m := indexed.FindStringSubmatch(part)
			if m == nil {
				break
			}
			i, _ := strconv.Atoi(m[2])
			indexes = append([]int{i}, indexes...)
			part = m[1]
		}
		if part != "" {
			steps = append(steps, step{key: part, index: -1})
		}
		for _, i := range indexes {
			steps = append(steps, step{index: i})
		}
	}
	return steps
}

// setInTree applies one replacement under root (a document's content).
func setInTree(root *yaml.Node, r Replacement) {
	cond, err := compileCondition(r.IfValue)
	steps := parsePath(r.Match)
	if err != nil || len(steps) == 0 {
		return
	}
	walkSet(root, steps, cond, r.Value, cond == nil)
}

// walkSet follows steps from n and sets what they lead to; create allows
// missing keys and elements to be made.
func walkSet(n *yaml.Node, steps []step, cond *condition, v Value, create bool) {
	if len(steps) == 0 {
		setNode(n, cond, v)
		return
	}
	s, rest := steps[0], steps[1:]
	switch {
	case s.wildcard:
		children := n.Content
		if n.Kind == yaml.MappingNode {
			children = nil
			for i := 1; i < len(n.Content); i += 2 {
				children = append(children, n.Content[i])
			}
		}
		if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range children {
			walkSet(c, rest, cond, v, false)
		}
	case s.key != "" && n.Kind == yaml.SequenceNode && isIndex(s.key):
		i, _ := strconv.Atoi(s.key)
		if c := element(n, i, create); c != nil {
			walkSet(c, rest, cond, v, create)
		}
	case s.key != "":
		if c := member(n, s.key, create, rest); c != nil {
			walkSet(c, rest, cond, v, create)
		}
	default:
		if n.Kind != yaml.SequenceNode {
			if !create || !isEmpty(n) {
				return
			}
			*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		if c := element(n, s.index, create); c != nil {
			walkSet(c, rest, cond, v, create)
		}
	}
}

// member returns the value of key in mapping n, adding it when create
// allows (and turning an empty node into a mapping); nil when it is
// missing.
func member(n *yaml.Node, key string, create bool, rest []step) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	if !create {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if !isEmpty(n) {
			// A scalar in the way is replaced, as Wings replaces it.
			*n = yaml.Node{HeadComment: n.HeadComment, LineComment: n.LineComment}
		}
		n.Kind, n.Tag, n.Value, n.Style, n.Content = yaml.MappingNode, "!!map", "", 0, nil
	}
	child := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	if len(rest) > 0 && rest[0].key == "" && !rest[0].wildcard {
		child = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, child)
	return child
}

// element returns element i of sequence n, appending it when it is one
// past the end and create allows; nil otherwise.
func element(n *yaml.Node, i int, create bool) *yaml.Node {
	switch {
	case i < len(n.Content):
		return n.Content[i]
	case i == len(n.Content) && create:
		c := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		n.Content = append(n.Content, c)
		return c
	}
	return nil
}

// isEmpty reports whether n holds nothing: null, or a node just made.
func isEmpty(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "+")
}

// setNode sets n to v, if cond lets it: a condition needs a scalar there.
func setNode(n *yaml.Node, cond *condition, v Value) {
	if cond != nil {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return
		}
		var ok bool
		if v, ok = cond.apply(n.Value, v); !ok {
			return
		}
	}
	tag, text := yamlScalar(v)
	style := yaml.Style(0)
	if n.Kind == yaml.ScalarNode && tag == "!!str" && n.Tag == "!!str" {
		// A quoted string stays quoted the same way.
		style = n.Style
	}
	n.Kind, n.Tag, n.Value, n.Style, n.Content, n.Alias = yaml.ScalarNode, tag, text, style, nil, nil
}

// yamlScalar is the tag and text v is written with.
func yamlScalar(v Value) (tag, text string) {
	switch {
	case v.Kind == Bool:
		return "!!bool", v.Text
	case v.Kind == Number && !isInteger(v.Text):
		return "!!float", v.Text
	case v.Kind == Number || isInteger(v.Text):
		return "!!int", v.Text
	}
	return "!!str", v.Text
}

// errNotDocument is a file whose top is a scalar: there is no key to set.
var errNotDocument = errors.New("the file holds a single value, not a mapping or a list")
