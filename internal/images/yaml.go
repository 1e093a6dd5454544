package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/berth-dev/berth/internal/fault"
)

// Pelican exports eggs as YAML as well as JSON. A YAML document is turned
// into the JSON it stands for, keeping the order of every mapping (an
// egg's first docker image is its default), and then read as JSON: one
// reader per format, whatever the syntax.

// maxYAMLNodes bounds the nodes a YAML document may expand to, aliases
// followed, so that a small document of nested aliases (a "billion
// laughs") cannot make a huge one.
const maxYAMLNodes = 200_000

// isJSON reports whether data is written as JSON: its first character,
// after blanks and a byte order mark, opens an object or an array.
func isJSON(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\ufeff")), " \t\r\n")
	return len(data) == 0 || data[0] == '{' || data[0] == '['
}

// yamlToJSON returns the JSON of a YAML document.
func yamlToJSON(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fault.InvalidField("document", "is neither JSON nor valid YAML: %s", yamlReason(err))
	}
	if doc.Kind == 0 {
		return nil, fault.InvalidField("document", "is empty")
	}
	c := yamlConverter{budget: maxYAMLNodes}
	if err := c.write(&doc); err != nil {
		return nil, fault.InvalidField("document", "%s", err)
	}
	return c.out.Bytes(), nil
}

// yamlReason is a YAML error without the package's prefix.
func yamlReason(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), "yaml: ")
}

// yamlConverter writes YAML nodes as JSON.
type yamlConverter struct {
	out    bytes.Buffer
	budget int
}

var errYAMLTooLarge = errors.New("expands to too many values (aliases nested too deep?)")

func (c *yamlConverter) write(n *yaml.Node) error {
	if c.budget--; c.budget < 0 {
		return errYAMLTooLarge
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("must hold one YAML document")
		}
		return c.write(n.Content[0])
	case yaml.AliasNode:
		return c.write(n.Alias)
	case yaml.SequenceNode:
		c.out.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				c.out.WriteByte(',')
			}
			if err := c.write(item); err != nil {
				return err
			}
		}
		c.out.WriteByte(']')
		return nil
	case yaml.MappingNode:
		return c.writeMapping(n)
	case yaml.ScalarNode:
		return c.writeScalar(n)
	}
	return fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// writeMapping writes a mapping as an object, keys as their text.
func (c *yamlConverter) writeMapping(n *yaml.Node) error {
	c.out.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		for key.Kind == yaml.AliasNode {
			key = key.Alias
		}
		if key.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a mapping key must be a plain value", key.Line)
		}
		if i > 0 {
			c.out.WriteByte(',')
		}
		k, _ := json.Marshal(key.Value)
		c.out.Write(k)
		c.out.WriteByte(':')
		if err := c.write(n.Content[i+1]); err != nil {
			return err
		}
	}
	c.out.WriteByte('}')
	return nil
}

// writeScalar writes a scalar as the JSON value of its resolved type:
// null, a boolean, a number, or else its text.
func (c *yamlConverter) writeScalar(n *yaml.Node) error {
	var v any
	switch n.ShortTag() {
	case "!!null":
		c.out.WriteString("null")
		return nil
	case "!!bool", "!!int", "!!float":
		if err := n.Decode(&v); err != nil {
			v = n.Value
		}
	default:
		v = n.Value
	}
	b, err := json.Marshal(v)
	if err != nil {
		// .inf and .nan have no JSON number; their text stands.
		b, _ = json.Marshal(n.Value)
	}
	c.out.Write(b)
	return nil
}
