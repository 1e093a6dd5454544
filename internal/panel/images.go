package panel

import (
	"errors"
	"io"
	"net/http"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
)

// listImages answers every template, in the shape the seed's clients read.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListTemplates(r.Context())
	if err != nil {
		return err
	}
	out := make([]images.Template, 0, len(list))
	for _, row := range list {
		t, err := images.Decode(row.Doc)
		if err != nil {
			return err
		}
		t.ID, t.Name = row.ID, row.Name
		out = append(out, t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createImage imports the body, a template in any format images.Import
// reads, and stores it: 201 with the stored template, 400 naming the field
// at fault, 409 when the name is taken. The template is stored in one
// insert after it has passed every check, so nothing is half-imported.
func (s *Server) createImage(w http.ResponseWriter, r *http.Request) error {
	raw, err := io.ReadAll(r.Body)
	if errors.As(err, new(*http.MaxBytesError)) {
		return errTooLarge
	}
	if err != nil {
		return fault.InvalidField("body", "could not be read")
	}
	t, err := images.Import(raw)
	if err == nil {
		t, err = s.store.SaveTemplate(r.Context(), t)
	}
	if err != nil {
		return err
	}
	s.audit(r, "image.create", t.ID)
	writeJSON(w, http.StatusCreated, t)
	return nil
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
