package configfiles

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v4"
)

// rewriteYAML applies reps to the first document of a YAML file; the
// documents after it are written back as they were.
func rewriteYAML(content []byte, reps []Replacement) ([]byte, error) {
	docs, err := readYAML(content)
	if err != nil {
		return nil, err
	}
	docs, root, err := documentRoot(docs)
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		setInTree(root, r)
	}
	indent, compact := yamlStyle(content)
	var b bytes.Buffer
	d, err := yaml.NewDumper(&b, yaml.WithV4Defaults(), yaml.WithIndent(indent),
		yaml.WithCompactSeqIndent(compact), yaml.WithLineWidth(-1))
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		if err := d.Dump(doc); err != nil {
			return nil, fmt.Errorf("write YAML: %w", err)
		}
	}
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return b.Bytes(), nil
}

// readYAML parses every document of content.
func readYAML(content []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not valid YAML: %w", err)
		}
		docs = append(docs, &doc)
	}
}

// documentRoot returns the node the paths start from: the first
// document's content, made an empty mapping when the file is empty (docs
// then gains the document).
func documentRoot(docs []*yaml.Node) ([]*yaml.Node, *yaml.Node, error) {
	if len(docs) == 0 {
		docs = append(docs, &yaml.Node{Kind: yaml.DocumentNode})
	}
	doc := docs[0]
	if len(doc.Content) == 0 {
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.MappingNode || root.Kind == yaml.SequenceNode:
	case isEmpty(root):
		*root = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: root.HeadComment}
	default:
		return nil, nil, errNotDocument
	}
	return docs, root, nil
}

// yamlStyle guesses how a file indents: the smallest indentation of a
// line, and whether a list's "- " sits at its key's own indentation
// (Bukkit's style). A new file gets two spaces and compact lists.
func yamlStyle(content []byte) (indent int, compact bool) {
	indent, compact = 0, true
	prev, prevIndent := "", 0
	sawList := false
	for line := range strings.SplitSeq(string(content), "\n") {
		body := strings.TrimLeft(line, " ")
		if strings.TrimSpace(body) == "" || body[0] == '#' {
			continue
		}
		n := len(line) - len(body)
		if n > 0 && (indent == 0 || n < indent) {
			indent = n
		}
		if strings.HasPrefix(body, "- ") && strings.HasSuffix(strings.TrimSpace(prev), ":") && !sawList {
			sawList = true
			compact = n == prevIndent
		}
		prev, prevIndent = body, n
	}
	if indent < 2 || indent > 9 {
		indent = 2
	}
	return indent, compact
}
