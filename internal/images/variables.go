package images

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/fault"
)

// CheckVariables turns the variables a deploy gave into the instance's
// variables: each of the template's, with its default where none was
// given, checked against its rules. It refuses a name the template does
// not declare (a typo, or an attempt to override the environment) and a
// new value for a variable that is not editable, unless it is required
// and has no default: the template leaves that value to whoever deploys
// (an admin's licence key, say), and a deploy without it is refused.
// Every error is a fault.Invalid on the field "variables" that names the
// variable. given is not modified.
func (t Template) CheckVariables(given map[string]string) (map[string]string, error) {
	for _, name := range sortedKeys(given) {
		v, ok := t.Variables[name]
		if !ok {
			return nil, fault.InvalidField("variables", "%s: is not a variable of image %s", name, t.Name)
		}
		// Clients often send back every value they were shown; repeating
		// the default is not an edit.
		if !v.Editable() && given[name] != v.Default && !v.SuppliedAtDeploy() {
			return nil, fault.InvalidField("variables", "%s: is not editable", name)
		}
	}
	out := make(map[string]string, len(t.Variables))
	for _, name := range sortedKeys(t.Variables) {
		v := t.Variables[name]
		val, ok := given[name]
		if !ok {
			val = v.Default
		}
		if val == "" {
			if v.Required {
				return nil, fault.InvalidField("variables", "%s: is required", name)
			}
		} else if msg := checkValue(v, val); msg != "" {
			return nil, fault.InvalidField("variables", "%s: %s", name, msg)
		}
		out[name] = val
	}
	return out, nil
}

// SuppliedAtDeploy reports whether the deploy must give the variable's
// value: it is required, not editable and has no default.
func (v Variable) SuppliedAtDeploy() bool {
	return v.Required && !v.Editable() && v.Default == ""
}

// WithDefaults returns vars with the default of each of the template's
// variables that vars lacks, such as one a newer version of the template
// added after the instance was deployed. vars is not modified.
func (t Template) WithDefaults(vars map[string]string) map[string]string {
	out := maps.Clone(vars)
	if out == nil {
		out = make(map[string]string, len(t.Variables))
	}
	for name, v := range t.Variables {
		if _, ok := out[name]; !ok {
			out[name] = v.Default
		}
	}
	return out
}

// CheckChange turns an instance's current variables and the changes a user
// asked for into its new variables. Every variable named in changes must
// be the template's and editable, whatever its value (a locked one is
// refused even when sent with its default or its current value), and is
// checked against its rules; every other variable keeps its current value,
// unchecked: an admin or an older template may have set it as the rules now
// would not allow. Errors are as CheckVariables's. Neither map is modified.
func (t Template) CheckChange(current, changes map[string]string) (map[string]string, error) {
	out := maps.Clone(current)
	if out == nil {
		out = make(map[string]string, len(changes))
	}
	for _, name := range sortedKeys(changes) {
		v, ok := t.Variables[name]
		if !ok {
			return nil, fault.InvalidField("variables", "%s: is not a variable of image %s", name, t.Name)
		}
		if !v.Editable() {
			return nil, fault.InvalidField("variables", "%s: is not editable", name)
		}
		val := changes[name]
		if val == "" {
			if v.Required {
				return nil, fault.InvalidField("variables", "%s: is required", name)
			}
		} else if msg := checkValue(v, val); msg != "" {
			return nil, fault.InvalidField("variables", "%s: %s", name, msg)
		}
		out[name] = val
	}
	return out, nil
}

// numberPattern is a decimal number, as a user would type it.
var numberPattern = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// checkValue checks a non-empty value against v's rules and returns what
// it breaks, or "".
func checkValue(v Variable, val string) string {
	switch v.Type {
	case TypeInt:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return "must be a whole number"
		}
		if msg := checkRange(v, float64(n), ""); msg != "" {
			return msg
		}
	case TypeNumber:
		if !numberPattern.MatchString(val) {
			return "must be a number"
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return "must be a number"
		}
		if msg := checkRange(v, f, ""); msg != "" {
			return msg
		}
	case TypeBool:
		switch strings.ToLower(val) {
		case "true", "false", "1", "0":
		default:
			return "must be true, false, 1 or 0"
		}
	default:
		if msg := checkRange(v, float64(utf8.RuneCountInString(val)), " characters"); msg != "" {
			return msg
		}
	}
	if v.Regex != "" {
		re, err := regexp.Compile(v.Regex)
		if err != nil || !re.MatchString(val) {
			return "must match " + v.Regex
		}
	}
	if len(v.OneOf) > 0 && !containsValue(v.OneOf, val) {
		return "must be one of " + strings.Join(v.OneOf, ", ")
	}
	if containsValue(v.NotOneOf, val) {
		return "must not be " + strings.Join(v.NotOneOf, ", ")
	}
	return ""
}

// checkRange checks a number, or a string's length, against v's bounds.
// unit follows the bound in the message: "" or " characters".
func checkRange(v Variable, f float64, unit string) string {
	switch {
	case v.Min != nil && v.MinExclusive && f <= float64(*v.Min):
		return fmt.Sprintf("must be more than %d%s", *v.Min, unit)
	case v.Min != nil && f < float64(*v.Min):
		return fmt.Sprintf("must be at least %d%s", *v.Min, unit)
	case v.Max != nil && v.MaxExclusive && f >= float64(*v.Max):
		return fmt.Sprintf("must be less than %d%s", *v.Max, unit)
	case v.Max != nil && f > float64(*v.Max):
		return fmt.Sprintf("must be at most %d%s", *v.Max, unit)
	}
	return ""
}

// containsValue reports whether list holds val, comparing as Laravel's in
// rule does under PHP 8: as text, or as numbers when both are numeric, so
// that "1.0" is in "1,2".
func containsValue(list []string, val string) bool {
	if slices.Contains(list, val) {
		return true
	}
	if !numberPattern.MatchString(strings.TrimSpace(val)) {
		return false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err != nil {
		return false
	}
	for _, item := range list {
		item = strings.TrimSpace(item)
		if numberPattern.MatchString(item) {
			if g, err := strconv.ParseFloat(item, 64); err == nil && g == f {
				return true
			}
		}
	}
	return false
}

// sortedKeys returns m's keys in order, so that the first error reported
// is the same on every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
