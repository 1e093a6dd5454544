package panel

import (
	"net/http"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
)

// An instance's own settings on the client API, beside its variables
// (client.go): its name, and the start command its variables fill in.

// maxInstanceName is the longest name an instance may have, as at deploy.
const maxInstanceName = 100

// viewInstanceVariables is the answer about in's variables: each with its
// template's rules, and the start command they fill in.
func viewInstanceVariables(t *images.Template, in store.Instance) variablesView {
	return variablesView{ID: in.ID, Variables: viewVariables(t, in), Startup: startupLine(t, in)}
}

// startupLine is t's start command with the built-in placeholders filled
// in and each {{NAME}} of a variable left as written, for a form to fill
// with the values being typed. It is empty for an instance without a
// template, or whose image keeps its own command.
func startupLine(t *images.Template, in store.Instance) string {
	if t == nil {
		return ""
	}
	return images.Render(t.Startup, images.Placeholders(nil, in.MemoryMiB, in.Primary.Container))
}

// renameInstance changes an instance's name: PATCH {"name": "..."}, held
// to the deploy's rule. The answer is the instance as GET shows it.
func (s *Server) renameInstance(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		name, err := b.str("name", true, maxInstanceName)
		if err != nil {
			return err
		}
		t, err := f(r)
		if err != nil {
			return err
		}
		in, err := s.store.RenameInstance(r.Context(), t.in.ID, name)
		if err != nil {
			return err
		}
		s.record(r, store.AuditEntry{Action: "instance.rename", InstanceID: in.ID, Target: in.ID, Detail: name})
		writeJSON(w, http.StatusOK, clientInstanceView{instanceView: viewInstance(in), Permissions: t.held})
		return nil
	}
}
