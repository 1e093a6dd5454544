package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
)

// Template is an image template. Doc is the template model as JSON; the
// images package owns its shape. UUID is an egg's own identity, or "".
type Template struct {
	ID        string
	Name      string
	UUID      string
	Doc       []byte
	CreatedAt time.Time
}

// CreateTemplate stores t. Names are unique ignoring case, and uuids other
// than "" are unique; a clash is a fault.Exist naming the template that
// has the name or the uuid.
func (s *Store) CreateTemplate(ctx context.Context, t Template) error {
	_, err := s.exec(ctx, `INSERT INTO templates (id, name, name_key, uuid, doc, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, foldKey(t.Name), t.UUID, string(t.Doc), millis(t.CreatedAt))
	if _, dup := uniqueViolation(err); dup {
		return s.templateExists(ctx, t.UUID, t.Name, t.ID)
	}
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	return nil
}

// templateExists explains a clash of a template, whose Id is self, with
// another stored template: which one, and how to update it instead.
func (s *Store) templateExists(ctx context.Context, uuid, name, self string) error {
	field, what := "Name", fmt.Sprintf("an image named %q already exists", name)
	if old, err := s.templateMatching(ctx, uuid, name, self); err == nil {
		if uuid != "" && old.UUID == uuid {
			field = "Uuid"
		}
		what = fmt.Sprintf("image %q (Id %s) already exists with this %s", old.Name, old.ID, strings.ToLower(field))
	}
	return &fault.Error{Kind: fault.Exist, Field: field, Msg: what + "; import it with replace to update it"}
}

// SaveTemplate validates t and stores it under a new Id, returning it as
// stored. A name already taken, ignoring case, or a uuid already stored is
// a fault.Exist naming the template that has it.
func (s *Store) SaveTemplate(ctx context.Context, t images.Template) (images.Template, error) {
	t, doc, err := images.Prepare(t, NewID(8))
	if err != nil {
		return images.Template{}, err
	}
	row := Template{ID: t.ID, Name: t.Name, UUID: t.UUID, Doc: doc, CreatedAt: time.Now()}
	if err := s.CreateTemplate(ctx, row); err != nil {
		return images.Template{}, err
	}
	return t, nil
}

// ReplaceTemplate stores t over the template of the same uuid or, failing
// that, of the same name (ignoring case), keeping that template's Id (and
// its uuid, when t has none); with neither, it saves t as new. It reports
// whether t was new.
//
// Instances of a replaced template keep running what they run: each gets
// a new generation, so the reconciler hands its node the new spec, which
// the node applies when it next creates the container, at the next start
// or restart (a running container is left alone). Variables the new
// version adds take their defaults then.
func (s *Store) ReplaceTemplate(ctx context.Context, t images.Template) (images.Template, bool, error) {
	old, err := s.templateMatching(ctx, t.UUID, t.Name, "")
	if fault.Is(err, fault.NotExist) {
		t, err = s.SaveTemplate(ctx, t)
		return t, err == nil, err
	}
	if err != nil {
		return images.Template{}, false, err
	}
	if t.UUID == "" {
		// A document without one, matched by name, keeps the identity.
		t.UUID = old.UUID
	}
	t, doc, err := images.Prepare(t, old.ID)
	if err != nil {
		return images.Template{}, false, err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE templates SET name = ?, name_key = ?, uuid = ?, doc = ? WHERE id = ?`),
			t.Name, foldKey(t.Name), t.UUID, string(doc), t.ID)
		if err != nil {
			return err
		}
		if n, err := rowsChanged(res); err != nil {
			return err
		} else if n == 0 {
			return fault.New(fault.NotExist, "Image %s was deleted during the import", t.ID)
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE instances SET generation = generation + 1, attempts = 0,
			next_attempt_at = 0, updated_at = ? WHERE template_id = ?`), millis(time.Now()), t.ID)
		return err
	})
	if _, dup := uniqueViolation(err); dup {
		return images.Template{}, false, s.templateExists(ctx, t.UUID, t.Name, t.ID)
	}
	if err != nil && !fault.Is(err, fault.NotExist) {
		err = fmt.Errorf("replace template %s: %w", t.ID, err)
	}
	if err != nil {
		return images.Template{}, false, err
	}
	return t, false, nil
}

// templateMatching finds the template of uuid (when not "") or else of
// name, ignoring case, other than the one whose Id is except.
func (s *Store) templateMatching(ctx context.Context, uuid, name, except string) (Template, error) {
	t, err := scanTemplate(s.queryRow(ctx, `SELECT `+templateColumns+` FROM templates
		WHERE ((uuid = ? AND uuid <> '') OR name_key = ?) AND id <> ?
		ORDER BY CASE WHEN uuid = ? AND uuid <> '' THEN 0 ELSE 1 END LIMIT 1`,
		uuid, foldKey(name), except, uuid))
	if err != nil {
		return Template{}, notFound(err, "Image")
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
	return s.TemplatePage(ctx, Page{})
}

// TemplateByRef finds a template by its Id, or else by its Name ignoring
// case.
func (s *Store) TemplateByRef(ctx context.Context, ref string) (Template, error) {
	t, err := scanTemplate(s.queryRow(ctx, `SELECT `+templateColumns+` FROM templates
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

// templateColumns are the columns scanTemplate reads.
const templateColumns = `id, name, uuid, doc, created_at`

func scanTemplate(row scanner) (Template, error) {
	var t Template
	var doc string
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &t.UUID, &doc, &created); err != nil {
		return Template{}, err
	}
	t.Doc = []byte(doc)
	t.CreatedAt = fromMillis(created)
	return t, nil
}
