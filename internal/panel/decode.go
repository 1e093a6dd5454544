package panel

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// maxBody is the largest request body accepted; larger ones get 413.
const maxBody = 1 << 20

// errTooLarge marks a body over maxBody.
var errTooLarge = fault.New(fault.TooLarge, "request body is larger than 1 MiB")

// body is a decoded request body: each field's raw JSON. Form-encoded
// bodies are turned into JSON strings, so both kinds read the same way.
type body map[string]json.RawMessage

// decodeBody reads a JSON object or a form-encoded body. An empty body is
// an empty object, so that "missing field" errors name the field.
func decodeBody(r *http.Request) (body, error) {
	raw, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, fault.InvalidField("body", "could not be read")
	}
	b := body{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, nil
	}
	// A body that opens with "{" is JSON whatever its Content-Type says:
	// curl -d labels everything form-encoded.
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" && bytes.TrimSpace(raw)[0] != '{' {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, fault.InvalidField("body", "is not valid form encoding")
		}
		for k, v := range vals {
			enc, _ := json.Marshal(v[0])
			b[k] = enc
		}
		return b, nil
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fault.InvalidField("body", "must be a JSON object")
		}
		return nil, fault.InvalidField("body", "is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if b == nil {
		return nil, fault.InvalidField("body", "must be a JSON object")
	}
	return b, nil
}

// present reports whether the field was sent with a non-null value.
func (b body) present(name string) bool {
	v, ok := b[name]
	return ok && string(v) != "null"
}

// str reads a string field. Numbers are accepted and kept as written, since
// clients send ports and ids both ways. A required field that is missing or
// empty is an error naming it; the value is trimmed and length-checked.
func (b body) str(name string, required bool, maxLen int) (string, error) {
	if !b.present(name) {
		if required {
			return "", fault.InvalidField(name, "is required")
		}
		return "", nil
	}
	raw := b[name]
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", fault.InvalidField(name, "must be a string")
		}
		s = n.String()
	}
	s = strings.TrimSpace(s)
	if s == "" && required {
		return "", fault.InvalidField(name, "is required")
	}
	if len(s) > maxLen {
		return "", fault.InvalidField(name, "must be at most %d bytes", maxLen)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fault.InvalidField(name, "must not contain control characters")
	}
	return s, nil
}

// number reads a number sent as a JSON number or a numeric string, and
// checks it lies within [lo, hi].
func (b body) number(name string, required bool, lo, hi float64) (float64, error) {
	if !b.present(name) {
		if required {
			return 0, fault.InvalidField(name, "is required")
		}
		return 0, nil
	}
	raw := b[name]
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != f {
		return 0, fault.InvalidField(name, "must be a number")
	}
	if f < lo || f > hi {
		return 0, fault.InvalidField(name, "must be between %s and %s", fmtNum(lo), fmtNum(hi))
	}
	return f, nil
}

// integer is number restricted to whole values.
func (b body) integer(name string, required bool, lo, hi int64) (int64, error) {
	f, err := b.number(name, required, float64(lo), float64(hi))
	if err != nil {
		return 0, err
	}
	if f != float64(int64(f)) {
		return 0, fault.InvalidField(name, "must be a whole number")
	}
	return int64(f), nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// boolean reads true/false, also as the strings "true"/"false" that form
// bodies carry.
func (b body) boolean(name string) (bool, error) {
	if !b.present(name) {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(b[name], &v); err == nil {
		return v, nil
	}
	var s string
	if err := json.Unmarshal(b[name], &s); err == nil {
		if v, err := strconv.ParseBool(s); err == nil {
			return v, nil
		}
	}
	return false, fault.InvalidField(name, "must be true or false")
}

// strings reads a required list of strings: a JSON array, or a single
// string (all a form body can send). what names the items in the error.
func (b body) strings(name, what string) ([]string, error) {
	if !b.present(name) {
		return nil, fault.InvalidField(name, "is required")
	}
	var list []string
	if json.Unmarshal(b[name], &list) != nil {
		var one string
		if json.Unmarshal(b[name], &one) != nil {
			return nil, fault.InvalidField(name, "must be an array of %s", what)
		}
		list = []string{one}
	}
	return list, nil
}

// maxVariables bounds a deploy's variables.
const (
	maxVariables     = 128
	maxVariableValue = 4096
)

// variables reads an object of variables, or a JSON string holding one, as
// the original clients send either. Values may be strings, numbers or
// booleans; names must be usable as environment variables.
func (b body) variables(name string) (map[string]string, error) {
	vars := map[string]string{}
	if !b.present(name) {
		return vars, nil
	}
	raw := b[name]
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return vars, nil
		}
		raw = json.RawMessage(s)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fault.InvalidField(name, "must be an object of name to value")
	}
	if len(obj) > maxVariables {
		return nil, fault.InvalidField(name, "at most %d variables are allowed", maxVariables)
	}
	for k, v := range obj {
		if !validEnvName(k) {
			return nil, fault.InvalidField(name, "%q is not a valid variable name (letters, digits and _, not starting with a digit)", k)
		}
		if err := nodeapi.CheckEnvName(k); err != nil {
			return nil, fault.InvalidField(name, "%s", err)
		}
		var val string
		switch x := v.(type) {
		case string:
			val = x
		case float64:
			val = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			val = strconv.FormatBool(x)
		case nil:
			val = ""
		default:
			return nil, fault.InvalidField(name, "%s must be a string, number or boolean", k)
		}
		if len(val) > maxVariableValue || strings.ContainsRune(val, 0) {
			return nil, fault.InvalidField(name, "%s must be at most %d bytes, without NUL", k, maxVariableValue)
		}
		vars[k] = val
	}
	return vars, nil
}

// validEnvName reports whether s can name an environment variable.
func validEnvName(s string) bool { return images.IsEnvName(s) }
