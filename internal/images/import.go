package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
)

// Format is a template document format Import reads.
type Format string

// The formats Import reads.
const (
	// FormatBerth is Berth's own format: Template as JSON, marked by its
	// "Format" field. It is what the panel stores and shows.
	FormatBerth Format = "berth/v1"
	// FormatSkyport is Skyport's "Images v2" JSON.
	FormatSkyport Format = "skyport"
	// FormatPTDLv1 and FormatPTDLv2 are Pterodactyl eggs, and
	// FormatPLCNv1 a Pelican egg, told apart by their meta.version.
	FormatPTDLv1 Format = "PTDL_v1"
	FormatPTDLv2 Format = "PTDL_v2"
	FormatPLCNv1 Format = "PLCN_v1"
)

// MaxDocument is the largest document Import reads, the same as the API's
// body limit.
const MaxDocument = 1 << 20

// Import reads a template in any supported format and returns it in
// Berth's model, validated. A malformed or unsupported document is a
// fault.Invalid naming the field at fault, in the terms of its own format.
func Import(data []byte) (Template, error) {
	t, _, err := ImportFormat(data)
	return t, err
}

// ImportFormat is Import that also says which format the document was in.
func ImportFormat(data []byte) (Template, Format, error) {
	if len(data) > MaxDocument {
		return Template{}, "", fault.InvalidField("document", "must be at most %d bytes", MaxDocument)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return Template{}, "", documentError(err)
	}
	format, err := detect(top)
	if err != nil {
		return Template{}, "", err
	}
	var t Template
	switch format {
	case FormatBerth:
		t, err = importBerth(data)
	case FormatSkyport:
		t, err = importSkyport(top)
	default:
		t, err = importEgg(top, format)
	}
	if err != nil {
		return Template{}, "", err
	}
	t.ID = ""
	t.normalise()
	if err := t.Validate(); err != nil {
		return Template{}, "", err
	}
	return t, format, nil
}

// detect tells the format from the top-level keys, which are matched
// exactly: eggs spell theirs in lower case, Skyport and Berth in
// PascalCase.
func detect(top map[string]json.RawMessage) (Format, error) {
	if raw, ok := top["meta"]; ok {
		meta, err := objectField(raw, "meta")
		if err != nil {
			return "", err
		}
		version, err := stringField(meta, "version", "meta.version")
		if err != nil {
			return "", err
		}
		switch f := Format(version); f {
		case FormatPTDLv1, FormatPTDLv2, FormatPLCNv1:
			return f, nil
		case "":
			return "", fault.InvalidField("meta.version", "is required")
		}
		return "", fault.InvalidField("meta.version", "unsupported %q (Berth reads PTDL_v1, PTDL_v2 and PLCN_v1)", truncate(version))
	}
	if raw, ok := top["Format"]; ok {
		var f string
		if json.Unmarshal(raw, &f) != nil {
			return "", fault.InvalidField("Format", "must be a string")
		}
		if Format(f) != FormatBerth {
			return "", fault.InvalidField("Format", "unsupported %q (Berth reads %s)", truncate(f), FormatBerth)
		}
		return FormatBerth, nil
	}
	for _, k := range []string{"Name", "Image"} {
		if _, ok := top[k]; ok {
			return FormatSkyport, nil
		}
	}
	for _, k := range []string{"name", "docker_images", "startup", "variables"} {
		if _, ok := top[k]; ok {
			return "", fault.InvalidField("meta.version", "is required: an egg names its format there (PTDL_v1, PTDL_v2 or PLCN_v1)")
		}
	}
	return "", fault.InvalidField("document", "is not a template Berth knows: not a Berth template (Format), "+
		"a Skyport image (Name, Image) or an egg (meta.version)")
}

// importBerth reads Berth's own format strictly: an unknown field is more
// likely a typo than something to ignore. Variables are decoded one by
// one, so that an error can name the variable.
func importBerth(data []byte) (Template, error) {
	var doc struct {
		Template
		Variables map[string]json.RawMessage `json:"Variables"`
	}
	if err := strictDecode(data, &doc); err != nil {
		return Template{}, decodeError(err, "")
	}
	t := doc.Template
	t.Variables = make(map[string]Variable, len(doc.Variables))
	for _, name := range sortedKeys(doc.Variables) {
		var v Variable
		if err := strictDecode(doc.Variables[name], &v); err != nil {
			return Template{}, decodeError(err, "Variables."+name)
		}
		t.Variables[name] = v
	}
	return t, nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// documentError explains why a document is not a JSON object.
func documentError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fault.InvalidField("document", "is not valid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
	case err != nil && !errors.As(err, new(*json.UnmarshalTypeError)):
		return fault.InvalidField("document", "is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return fault.InvalidField("document", "must be a JSON object")
}

// decodeError turns a json decoding error into one naming the field;
// prefix is the path of the object decoded, "" for the document.
func decodeError(err error, prefix string) error {
	join := func(field string) string {
		switch {
		case prefix == "":
			return field
		case field == "":
			return prefix
		}
		return prefix + "." + field
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		// The document is decoded through a struct that embeds Template.
		field := join(strings.TrimPrefix(typ.Field, "Template."))
		if field == "" {
			field = "document"
		}
		return fault.InvalidField(field, "must be %s, not a JSON %s", describeType(typ.Type), typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name = strings.Trim(name, `"`); name == "" {
			field := join("")
			if field == "" {
				field = "document"
			}
			return fault.InvalidField(field, "has a field with an empty name")
		}
		return fault.InvalidField(join(name), "is not a field of a Berth template")
	}
	if prefix != "" {
		return fault.InvalidField(prefix, "must be an object")
	}
	return documentError(err)
}

// describeType names a Go type the way a JSON author thinks of it.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// The helpers below read one field of a loosely typed document (Skyport
// images and eggs are hand-written and vary), naming it on error. A
// missing field and null both read as the zero value.

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// objectField decodes raw as an object.
func objectField(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	if isNull(raw) {
		return map[string]json.RawMessage{}, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, fault.InvalidField(field, "must be an object")
	}
	return m, nil
}

// stringField reads obj[key] as a string.
func stringField(obj map[string]json.RawMessage, key, field string) (string, error) {
	raw := obj[key]
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", fault.InvalidField(field, "must be a string")
	}
	return s, nil
}

// stringInto is a top-level string field and where to read it into.
type stringInto struct {
	key string
	dst *string
}

// readStrings reads several top-level string fields, in order, stopping
// at the first that is not a string.
func readStrings(obj map[string]json.RawMessage, fields ...stringInto) error {
	for _, f := range fields {
		var err error
		if *f.dst, err = stringField(obj, f.key, f.key); err != nil {
			return err
		}
	}
	return nil
}

// stringsField reads obj[key] as an array of strings.
func stringsField(obj map[string]json.RawMessage, key, field string) ([]string, error) {
	raw := obj[key]
	if isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, fault.InvalidField(field, "must be an array of strings")
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		var s string
		if json.Unmarshal(item, &s) != nil {
			return nil, fault.InvalidField(fmt.Sprintf("%s[%d]", field, i), "must be a string")
		}
		out = append(out, s)
	}
	return out, nil
}

// scalarField reads obj[key] as text: a string as it is, a number or a
// boolean as written. Hand-written documents give defaults all three ways.
func scalarField(obj map[string]json.RawMessage, key, field string) (string, error) {
	raw := obj[key]
	if isNull(raw) {
		return "", nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return "", fault.InvalidField(field, "must be a string, number or boolean")
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	}
	return "", fault.InvalidField(field, "must be a string, number or boolean")
}

// boolField reads obj[key] as a flag: true/false, 1/0, or those as
// strings, as older exports wrote them. A missing field is def.
func boolField(obj map[string]json.RawMessage, key, field string, def bool) (bool, error) {
	if isNull(obj[key]) {
		return def, nil
	}
	s, err := scalarField(obj, key, field)
	if err == nil {
		switch strings.ToLower(s) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
	}
	return false, fault.InvalidField(field, "must be true or false")
}

// member is one key and value of an object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// orderedObject decodes raw as an object, keeping its members' order
// (which Go maps lose): an egg's first docker image is its default.
func orderedObject(raw json.RawMessage, field string) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fault.InvalidField(field, "must be an object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fault.InvalidField(field, "must be an object")
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fault.InvalidField(field, "must be an object")
		}
		out = append(out, member{key, value})
	}
	return out, nil
}
