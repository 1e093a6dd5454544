package panel

import (
	"errors"
	"io"
	"net/http"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
)

// listImages answers every template, in the shape the seed's clients read,
// by name, ignoring case.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) error {
	lq, err := readListQuery(r)
	if err != nil {
		return err
	}
	return writeList(s, w, r, lq, func(p store.Page) ([]store.Template, error) {
		return s.store.TemplatePage(r.Context(), p)
	}, func(row store.Template) (any, error) {
		t, err := images.Decode(row.Doc)
		if err != nil {
			return nil, err
		}
		t.ID, t.Name = row.ID, row.Name
		return t, nil
	})
}

// importedView is the answer to an import: the stored template, and what
// the import changed or left out, if anything.
type importedView struct {
	images.Template
	Warnings []string `json:"warnings,omitempty"`
}

// createImage imports the body, a template in any format images.Import
// reads (JSON or YAML), and stores it: 201 with the stored template, 400
// naming the field at fault, 409 naming the template that already has its
// uuid or name. With ?replace=true it updates that template instead (200;
// 201 when there was none). The template is stored in one write after it
// has passed every check, so nothing is half-imported.
func (s *Server) createImage(w http.ResponseWriter, r *http.Request) error {
	replace, err := boolQuery(r, "replace")
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(r.Body)
	if errors.As(err, new(*http.MaxBytesError)) {
		return errTooLarge
	}
	if err != nil {
		return fault.InvalidField("body", "could not be read")
	}
	res, err := images.ImportDocument(raw)
	if err != nil {
		return err
	}
	t, created := res.Template, true
	if replace {
		t, created, err = s.store.ReplaceTemplate(r.Context(), t)
	} else {
		t, err = s.store.SaveTemplate(r.Context(), t)
	}
	if err != nil {
		return err
	}
	status, action := http.StatusCreated, "image.create"
	if !created {
		status, action = http.StatusOK, "image.replace"
	}
	s.audit(r, action, t.ID)
	writeJSON(w, status, importedView{t, res.Warnings})
	return nil
}

// boolQuery reads a flag of the query: absent, "false" or "0" is false,
// "true" or "1" true; anything else is a 400 naming it.
func boolQuery(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, fault.InvalidField(name, "must be true or false")
}

// deleteImage removes a template by Id: 404 when there is none, 409 while
// instances use it.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTemplate(r.Context(), id); err != nil {
		return err
	}
	s.audit(r, "image.delete", id)
	writeJSON(w, http.StatusOK, messageView{"Image deleted"})
	return nil
}
