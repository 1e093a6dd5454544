// Package images holds the image template model: what an instance is
// started from. The panel stores templates as JSON in this shape and shows
// them in it through GET /api/images.
package images

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Template is an image template. Field names follow the original system's
// "Images v2" documents, so its clients read them unchanged.
type Template struct {
	// ID is assigned by the panel when the template is stored.
	ID string `json:"Id"`
	// Name is unique among templates, ignoring case.
	Name        string `json:"Name"`
	Description string `json:"Description"`
	Author      string `json:"Author"`
	// Image is the default Docker image; AltImages are the alternatives a
	// deploy may choose instead.
	Image     string   `json:"Image"`
	AltImages []string `json:"AltImages"`
	// Env is fixed environment, as KEY=VALUE.
	Env []string `json:"Env"`
	// Startup is the start command; {{VAR}} placeholders name variables.
	Startup string `json:"Startup"`
	// StopCommand is written to the console to stop, or "^SIGNAL".
	StopCommand string `json:"StopCommand"`
	// MountPath is where the data folder appears; empty is /home/container.
	MountPath string `json:"MountPath,omitempty"`
	// Variables the instance's owner may set, by environment name.
	Variables map[string]Variable `json:"Variables"`
	// Scripts holds the install steps.
	Scripts Scripts `json:"Scripts"`
}

// Variable is one setting of a template.
type Variable struct {
	Description string `json:"description,omitempty"`
	Default     string `json:"default"`
	Required    bool   `json:"required"`
}

// Scripts is a template's install work.
type Scripts struct {
	Install []json.RawMessage `json:"Install"`
}

// Decode reads a stored template document.
func Decode(doc []byte) (Template, error) {
	var t Template
	if err := json.Unmarshal(doc, &t); err != nil {
		return Template{}, fmt.Errorf("template: %w", err)
	}
	return t, nil
}

// Render replaces each {{NAME}} in s with vars[NAME]. Unknown names are
// left as written, so a typo shows in the console rather than vanishing.
func Render(s string, vars map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			break
		}
		name := strings.TrimSpace(s[i+2 : i+2+j])
		b.WriteString(s[:i])
		if v, ok := vars[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+4+j])
		}
		s = s[i+4+j:]
	}
	b.WriteString(s)
	return b.String()
}
