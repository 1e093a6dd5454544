package images

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
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

// InstallBuiltins stores each built-in template whose name no stored
// template has. Running it again adds nothing, and a panel racing another
// on the same database loses harmlessly to the unique name.
func InstallBuiltins(ctx context.Context, st *store.Store) error {
	list, err := Builtins()
	if err != nil {
		return err
	}
	for _, t := range list {
		_, err := st.TemplateByRef(ctx, t.Name)
		if err == nil {
			continue
		}
		if !fault.Is(err, fault.NotExist) {
			return fmt.Errorf("built-in template %s: %w", t.Name, err)
		}
		if _, err := Save(ctx, st, t); err != nil && !fault.Is(err, fault.Exist) {
			return fmt.Errorf("built-in template %s: %w", t.Name, err)
		}
	}
	return nil
}

// Save validates t and stores it under a new Id, returning it as stored.
// A name already taken, ignoring case, is a fault.Exist.
func Save(ctx context.Context, st *store.Store, t Template) (Template, error) {
	t.normalise()
	if err := t.Validate(); err != nil {
		return Template{}, err
	}
	t.ID = store.NewID(8)
	doc, err := Encode(t)
	if err != nil {
		return Template{}, err
	}
	if err := st.CreateTemplate(ctx, store.Template{ID: t.ID, Name: t.Name, Doc: doc, CreatedAt: time.Now()}); err != nil {
		return Template{}, err
	}
	return t, nil
}
