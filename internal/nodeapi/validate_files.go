package nodeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/configfiles"
)

// Limits of a spec's config files and denylist, the same as a template's.
const (
	MaxConfigFiles    = 64
	MaxConfigReplaces = 256
	MaxConfigText     = 4096
	MaxDenylist       = 256
	MaxDenyPattern    = 1024
)

// validateFiles checks a spec's ConfigFiles and FileDenylist.
func validateFiles(list []ConfigFile, deny []string) error {
	if len(list) > MaxConfigFiles {
		return &FieldError{"configFiles", fmt.Sprintf("at most %d files are allowed", MaxConfigFiles)}
	}
	for i, f := range list {
		field := fmt.Sprintf("configFiles[%d]", i)
		if err := checkRelativePath(field+".path", f.Path); err != nil {
			return err
		}
		if !configfiles.KnownParser(f.Parser) {
			return &FieldError{field + ".parser", "must be one of " + strings.Join(configfiles.Parsers, ", ")}
		}
		if len(f.Replace) > MaxConfigReplaces {
			return &FieldError{field + ".replace", fmt.Sprintf("at most %d replacements are allowed", MaxConfigReplaces)}
		}
		for j, r := range f.Replace {
			if err := r.validate(fmt.Sprintf("%s.replace[%d]", field, j)); err != nil {
				return err
			}
		}
	}
	if len(deny) > MaxDenylist {
		return &FieldError{"fileDenylist", fmt.Sprintf("at most %d patterns are allowed", MaxDenylist)}
	}
	for i, p := range deny {
		if p == "" || len(p) > MaxDenyPattern || strings.ContainsAny(p, "\x00\n\r") {
			return &FieldError{fmt.Sprintf("fileDenylist[%d]", i),
				fmt.Sprintf("must be 1 to %d bytes on one line", MaxDenyPattern)}
		}
	}
	return nil
}

func (r ConfigReplace) validate(field string) error {
	for _, s := range []struct{ name, value string }{{"match", r.Match}, {"ifValue", r.IfValue}} {
		if len(s.value) > MaxConfigText || strings.ContainsRune(s.value, 0) {
			return &FieldError{field + "." + s.name, fmt.Sprintf("must be at most %d bytes, without NUL", MaxConfigText)}
		}
	}
	if r.Match == "" {
		return &FieldError{field + ".match", "is required"}
	}
	if _, err := r.Scalar(); err != nil || len(r.Value) > MaxConfigText {
		return &FieldError{field + ".value", fmt.Sprintf("must be a JSON string, number or boolean of at most %d bytes", MaxConfigText)}
	}
	return nil
}

// Scalar decodes Value: its text, and how it was written.
func (r ConfigReplace) Scalar() (configfiles.Value, error) {
	raw := bytes.TrimSpace(r.Value)
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return configfiles.Value{}, err
	}
	switch x := v.(type) {
	case string:
		return configfiles.Value{Text: x, Kind: configfiles.String}, nil
	case json.Number:
		return configfiles.Value{Text: x.String(), Kind: configfiles.Number}, nil
	case bool:
		return configfiles.Value{Text: fmt.Sprint(x), Kind: configfiles.Bool}, nil
	}
	return configfiles.Value{}, fmt.Errorf("not a string, number or boolean")
}
