package store

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
)

// Template is an image template. Doc is the template model as JSON; the
// images package owns its shape.
type Template struct {
	ID        string
	Name      string
	Doc       []byte
	CreatedAt time.Time
}

// CreateTemplate stores t. Names are unique ignoring case.
func (s *Store) CreateTemplate(ctx context.Context, t Template) error {
	_, err := s.exec(ctx, `INSERT INTO templates (id, name, name_key, doc, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, foldKey(t.Name), string(t.Doc), millis(t.CreatedAt))
	if _, dup := uniqueViolation(err); dup {
		return &fault.Error{Kind: fault.Exist, Field: "Name", Msg: fmt.Sprintf("an image named %q already exists", t.Name)}
	}
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	return nil
}

// SaveTemplate validates t and stores it under a new Id, returning it as
// stored. A name already taken, ignoring case, is a fault.Exist.
func (s *Store) SaveTemplate(ctx context.Context, t images.Template) (images.Template, error) {
	t, doc, err := images.Prepare(t, NewID(8))
	if err != nil {
		return images.Template{}, err
	}
	if err := s.CreateTemplate(ctx, Template{ID: t.ID, Name: t.Name, Doc: doc, CreatedAt: time.Now()}); err != nil {
		return images.Template{}, err
	}
	return t, nil
}

// AddMissingTemplates saves each of list whose name no stored template
// has, such as the built-in templates at every start. Running it again
// adds nothing; an operator's own template of a name is left alone; and a
// panel racing another on the same database loses harmlessly to the
// unique name.
func (s *Store) AddMissingTemplates(ctx context.Context, list []images.Template) error {
	for _, t := range list {
		_, err := s.TemplateByRef(ctx, t.Name)
		if err == nil {
			continue
		}
		if !fault.Is(err, fault.NotExist) {
			return fmt.Errorf("template %s: %w", t.Name, err)
		}
		if _, err := s.SaveTemplate(ctx, t); err != nil && !fault.Is(err, fault.Exist) {
			return fmt.Errorf("template %s: %w", t.Name, err)
		}
	}
	return nil
}

// ListTemplates returns every template, by name.
func (s *Store) ListTemplates(ctx context.Context) ([]Template, error) {
	return queryAll(ctx, s, "list templates", scanTemplate, `SELECT id, name, doc, created_at FROM templates ORDER BY name_key`+s.bytewise)
}

// TemplateByRef finds a template by its Id, or else by its Name ignoring
// case.
func (s *Store) TemplateByRef(ctx context.Context, ref string) (Template, error) {
	t, err := scanTemplate(s.queryRow(ctx, `SELECT id, name, doc, created_at FROM templates
		WHERE id = ? OR name_key = ? ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`,
		ref, foldKey(ref), ref))
	if err != nil {
		return Template{}, notFound(err, "Image")
	}
	return t, nil
}

// DeleteTemplate removes a template no instance uses; one in use is a
// Conflict. The foreign key decides, not a count before the DELETE: a
// deploy whose transaction has not yet committed is invisible to such a
// count on PostgreSQL, and the DELETE, which waits for that deploy, would
// then fail on the key all the same.
func (s *Store) DeleteTemplate(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM templates WHERE id = ?`, id)
	if foreignKeyViolation(err) {
		// Counted after the fact, for the message alone.
		var n int
		if err := s.queryRow(ctx, `SELECT COUNT(*) FROM instances WHERE template_id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("delete template %s: %w", id, err)
		}
		return fault.New(fault.Conflict, "image is used by %d instance(s)", n)
	}
	if err != nil {
		return fmt.Errorf("delete template %s: %w", id, err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return fmt.Errorf("delete template %s: %w", id, err)
	}
	if n == 0 {
		return fault.New(fault.NotExist, "Image not found")
	}
	return nil
}

func scanTemplate(row scanner) (Template, error) {
	var t Template
	var doc string
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &doc, &created); err != nil {
		return Template{}, err
	}
	t.Doc = []byte(doc)
	t.CreatedAt = fromMillis(created)
	return t, nil
}
