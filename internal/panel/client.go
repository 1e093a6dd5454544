package panel

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
)

// The client API's own endpoints: a user's instances and their variables
// (subusers and activity have files of their own). The endpoints it
// shares with the admin API (power, logs, files, ...) are those handlers
// behind the client's instance front (fronts.go).

// clientInstanceView is an instance as a user sees it: the admin API's
// shape and what the user may do to it.
type clientInstanceView struct {
	instanceView
	Permissions []access.Permission `json:"permissions"`
}

func viewClientInstance(p access.Principal, sh store.Shared) clientInstanceView {
	return clientInstanceView{instanceView: viewInstance(sh.Instance), Permissions: access.Held(p, accessInstance(sh))}
}

// listClientInstances answers the instances the user owns or is a subuser
// of, each with its permissions. An admin user sees its own here too; all
// of them are on the admin API.
func (s *Server) listClientInstances(w http.ResponseWriter, r *http.Request) error {
	lq, err := readListQuery(r)
	if err != nil {
		return err
	}
	caller := callerOf(r)
	return writeList(s, w, r, lq, func(p store.Page) ([]store.Shared, error) {
		return s.store.SharedPage(r.Context(), caller.UserID, p)
	}, func(sh store.Shared) (any, error) { return viewClientInstance(caller, sh), nil })
}

// getClientInstance answers one instance with the user's permissions.
func (s *Server) getClientInstance(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := f(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, clientInstanceView{instanceView: viewInstance(t.in), Permissions: t.held})
		return nil
	}
}

// instanceVariableView is one variable of an instance with its template's rules,
// so that a form can check a value before sending it.
type instanceVariableView struct {
	// Env is the environment variable's name, the key PUT takes.
	Env      string `json:"env"`
	Value    string `json:"value"`
	Editable bool   `json:"editable"`
	images.Variable
}

// variablesView is an instance's variables.
type variablesView struct {
	ID        string                 `json:"id"`
	Variables []instanceVariableView `json:"variables"`
	// Startup is the start command, its built-in placeholders filled in
	// and each variable's {{NAME}} left for a form's preview to fill.
	Startup string `json:"startup" doc:"the start command with {{NAME}} of each variable unfilled; empty when the image keeps its own"`
}

// instanceTemplate returns the template an instance was deployed from,
// or nil for an instance of a bare Docker image.
func (s *Server) instanceTemplate(r *http.Request, in store.Instance) (*images.Template, error) {
	if in.TemplateID == "" {
		return nil, nil
	}
	row, err := s.store.TemplateByRef(r.Context(), in.TemplateID)
	if err != nil {
		return nil, err
	}
	t, err := images.Decode(row.Doc)
	if err != nil {
		return nil, err
	}
	t.ID, t.Name = row.ID, row.Name
	return &t, nil
}

// viewVariables lists in's variables by name. Without a template, none is
// editable: only an admin's deploy sets them.
func viewVariables(t *images.Template, in store.Instance) []instanceVariableView {
	out := []instanceVariableView{}
	for _, env := range sortedNames(in.Variables) {
		v := instanceVariableView{Env: env, Value: in.Variables[env]}
		if t != nil {
			v.Variable = t.Variables[env]
			v.Editable = v.Variable.Editable()
		}
		out = append(out, v)
	}
	return out
}

// sortedNames returns m's keys in order.
func sortedNames(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// getVariables answers an instance's variables with their rules.
func (s *Server) getVariables(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := f(r)
		if err != nil {
			return err
		}
		tmpl, err := s.instanceTemplate(r, t.in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewInstanceVariables(tmpl, t.in))
		return nil
	}
}

// setVariables changes the editable variables of an instance: PUT
// {"variables": {NAME: value}}. Each variable sent must be editable,
// whatever its value, and is held to the template's rules as a deploy's
// is; those not sent keep their values, which an admin may have set
// beyond those rules. The node gets them through the reconciler, which
// recreates the container.
func (s *Server) setVariables(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		if !b.present("variables") {
			return fault.InvalidField("variables", "is required")
		}
		given, err := b.variables("variables")
		if err != nil {
			return err
		}
		t, err := f(r)
		if err != nil {
			return err
		}
		tmpl, err := s.instanceTemplate(r, t.in)
		if err != nil {
			return err
		}
		if tmpl == nil {
			return fault.InvalidField("variables", "this instance has no image template, so none of its variables is editable")
		}
		vars, err := tmpl.CheckChange(t.in.Variables, given)
		if err != nil {
			return err
		}
		// A value lands in the download URLs too, as at deploy.
		if _, err := tmpl.RenderDownloads(vars); err != nil {
			return fault.InvalidField("variables", "the values make a download invalid: %s", fault.Message(err))
		}
		in, err := s.store.SetVariables(r.Context(), t.in.ID, vars)
		if err != nil {
			return err
		}
		s.record(r, store.AuditEntry{Action: "instance.variables", InstanceID: in.ID, Target: in.ID,
			Detail: strings.Join(sortedNames(given), " ")})
		s.cfg.KickNode(in.NodeID)
		writeJSON(w, http.StatusOK, viewInstanceVariables(tmpl, in))
		return nil
	}
}
