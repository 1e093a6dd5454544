package images

import (
	"embed"
	"fmt"
	"io/fs"
)

// builtinFiles are the templates shipped in the binary, in Berth's format.
//
//go:embed builtin/*.json
var builtinFiles embed.FS

// Builtins returns the templates shipped in the binary, in file name
// order. Each is imported like any other document, so a broken one fails
// here (and in the tests) rather than at a deploy.
func Builtins() ([]Template, error) {
	names, err := fs.Glob(builtinFiles, "builtin/*.json")
	if err != nil {
		return nil, err
	}
	list := make([]Template, 0, len(names))
	for _, name := range names {
		data, err := builtinFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t, err := Import(data)
		if err != nil {
			return nil, fmt.Errorf("built-in template %s: %w", name, err)
		}
		list = append(list, t)
	}
	return list, nil
}

// Prepare readies t to be stored under id: it fills in the defaults of
// Berth's format, checks the template's rules, and returns the template
// with the document to store. The store saves it; this package knows no
// storage.
func Prepare(t Template, id string) (Template, []byte, error) {
	t.normalise()
	if err := t.Validate(); err != nil {
		return Template{}, nil, err
	}
	t.ID = id
	doc, err := Encode(t)
	if err != nil {
		return Template{}, nil, err
	}
	return t, doc, nil
}
