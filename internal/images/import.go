package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
	// FormatPLCNv1 to FormatPLCNv3 Pelican eggs, told apart by their
	// meta.version. Pelican reads all five; only PTDL_v1 (images, image)
	// and PLCN_v3 (startup_commands) differ in shape.
	FormatPTDLv1 Format = "PTDL_v1"
	FormatPTDLv2 Format = "PTDL_v2"
	FormatPLCNv1 Format = "PLCN_v1"
	FormatPLCNv2 Format = "PLCN_v2"
	FormatPLCNv3 Format = "PLCN_v3"
)

// eggFormats are the egg versions Import reads.
var eggFormats = []Format{FormatPTDLv1, FormatPTDLv2, FormatPLCNv1, FormatPLCNv2, FormatPLCNv3}

// MaxDocument is the largest document Import reads, the same as the API's
// body limit.
const MaxDocument = 1 << 20

// Import reads a template in any supported format and returns it in
// Berth's model, validated. A malformed or unsupported document is a
// fault.Invalid naming the field at fault, in the terms of its own format.
func Import(data []byte) (Template, error) {
	r, err := ImportDocument(data)
	return r.Template, err
}

// ImportFormat is Import that also says which format the document was in.
func ImportFormat(data []byte) (Template, Format, error) {
	r, err := ImportDocument(data)
	return r.Template, r.Format, err
}

// Result is an imported template and what the import has to say about it.
type Result struct {
	Template Template
	Format   Format
	// YAML says the document was written in YAML rather than JSON.
	YAML bool
	// Warnings say what the import changed or left out, each naming the
	// field in the document's own terms: a rule Berth cannot check, a
	// variable declared twice, a stop value that kills.
	Warnings []string
}

// ImportDocument is Import with the format, the syntax and the warnings.
func ImportDocument(data []byte) (Result, error) {
	if len(data) > MaxDocument {
		return Result{}, fault.InvalidField("document", "must be at most %d bytes", MaxDocument)
	}
	var r Result
	if !isJSON(data) {
		var err error
		if data, err = yamlToJSON(data); err != nil {
			return Result{}, err
		}
		r.YAML = true
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return Result{}, documentError(err)
	}
	var err error
	if r.Format, err = detect(top); err != nil {
		return Result{}, err
	}
	var w warnings
	switch r.Format {
	case FormatBerth:
		r.Template, err = importBerth(data)
	case FormatSkyport:
		r.Template, err = importSkyport(top)
	default:
		r.Template, err = importEgg(top, r.Format, &w)
	}
	if err != nil {
		return Result{}, err
	}
	r.Template.ID = ""
	r.Template.normalise()
	if err := r.Template.Validate(); err != nil {
		return Result{}, err
	}
	r.Warnings = w
	return r, nil
}

// warnings collects what an import has to say, each line naming a field.
type warnings []string

func (w *warnings) add(field, format string, args ...any) {
	*w = append(*w, field+": "+fmt.Sprintf(format, args...))
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
		switch f := Format(version); {
		case slices.Contains(eggFormats, f):
			return f, nil
		case f == "":
			return "", fault.InvalidField("meta.version", "is required")
		}
		return "", fault.InvalidField("meta.version", "unsupported %q (Berth reads %s)", truncate(version), eggVersions())
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
			return "", fault.InvalidField("meta.version", "is required: an egg names its format there (%s)", eggVersions())
		}
	}
	return "", fault.InvalidField("document", "is not a template Berth knows: not a Berth template (Format), "+
		"a Skyport image (Name, Image) or an egg (meta.version)")
}

// eggVersions lists the egg versions Import reads, for messages.
func eggVersions() string {
	names := make([]string, len(eggFormats))
	for i, f := range eggFormats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
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
		// PHP writes an empty array as {} where it cannot tell a list
		// from a map, as Pelican's YAML exports do.
		var empty map[string]json.RawMessage
		if json.Unmarshal(raw, &empty) == nil && len(empty) == 0 {
			return nil, nil
		}
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
