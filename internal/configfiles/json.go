package configfiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"
)

// rewriteJSON applies reps to a JSON file. It is read as YAML, of which
// JSON is a subset, so that one tree and one set of path rules serve both;
// it is written back as JSON, indented as the file was (four spaces, as
// Wings writes, for a new file), or on one line if it was on one line.
func rewriteJSON(content []byte, reps []Replacement) ([]byte, error) {
	trimmed := bytes.TrimSpace(content)
	if len(trimmed) > 0 && !json.Valid(trimmed) {
		return nil, fmt.Errorf("not valid JSON")
	}
	docs, err := readYAML(trimmed)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	_, root, err := documentRoot(docs)
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		setInTree(root, r)
	}
	var b bytes.Buffer
	if err := writeJSON(&b, root, jsonIndent(content), 0); err != nil {
		return nil, err
	}
	if len(trimmed) > 0 && !bytes.Contains(trimmed, []byte("\n")) {
		var compact bytes.Buffer
		if err := json.Compact(&compact, b.Bytes()); err != nil {
			return nil, err
		}
		b = compact
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// jsonIndent is the indentation of the file's first indented line.
func jsonIndent(content []byte) string {
	for line := range strings.SplitSeq(string(content), "\n") {
		body := strings.TrimLeft(line, " \t")
		if body != "" && len(body) < len(line) {
			return line[:len(line)-len(body)]
		}
	}
	return "    "
}

// writeJSON writes n as JSON, its members at depth+1 indentations.
func writeJSON(b *bytes.Buffer, n *yaml.Node, indent string, depth int) error {
	inner := "\n" + strings.Repeat(indent, depth+1)
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		open, close, step := "[", "]", 1
		if n.Kind == yaml.MappingNode {
			open, close, step = "{", "}", 2
		}
		b.WriteString(open)
		for i := 0; i+step-1 < len(n.Content); i += step {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(inner)
			value := n.Content[i]
			if step == 2 {
				writeJSONString(b, n.Content[i].Value)
				b.WriteString(": ")
				value = n.Content[i+1]
			}
			if err := writeJSON(b, value, indent, depth+1); err != nil {
				return err
			}
		}
		if len(n.Content) > 0 {
			b.WriteString("\n" + strings.Repeat(indent, depth))
		}
		b.WriteString(close)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float", "!!bool":
			if !json.Valid([]byte(n.Value)) {
				writeJSONString(b, n.Value)
				return nil
			}
			b.WriteString(n.Value)
		case "!!null":
			b.WriteString("null")
		default:
			writeJSONString(b, n.Value)
		}
	default:
		return fmt.Errorf("write JSON: unexpected YAML node kind %v", n.Kind)
	}
	return nil
}

// writeJSONString writes s as a JSON string, without escaping <, > and &
// as encoding/json does for HTML.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	// Encode ends the value with a newline.
	b.Truncate(b.Len() - 1)
}
