package images

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
)

// This file reads the Laravel validation rules of egg variables, such as
// "required|string|max:20", "nullable|integer|between:1,100", "in:a,b,c"
// or "regex:/^[a-z]+$/", into a Variable's rules. A rule Berth cannot
// honour is left out with a warning, never silently: the operator should
// know a check is gone.

// ruleList reads rules as Pterodactyl writes them, one string joined by
// "|", or as a list of rule strings, as Pelican may.
func ruleList(raw json.RawMessage, field string) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return splitRules(s), nil
	}
	list, err := stringsField(map[string]json.RawMessage{"r": raw}, "r", field)
	if err != nil {
		return nil, fault.InvalidField(field, "must be a string of rules joined by | or an array of rules")
	}
	return list, nil
}

// splitRules splits a rule string on "|", except inside a regex rule's
// delimiters: Laravel itself would split "regex:/^(a|b)$/" in two, which
// is never what the author meant.
func splitRules(s string) []string {
	parts := strings.Split(s, "|")
	var out []string
	for i := 0; i < len(parts); i++ {
		p := strings.TrimLeft(parts[i], " \t")
		if pat, ok := regexParam(p); ok {
			for !pcreClosed(pat) && i+1 < len(parts) {
				i++
				p += "|" + parts[i]
				pat += "|" + parts[i]
			}
		}
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

func regexParam(rule string) (string, bool) {
	name, param, ok := strings.Cut(rule, ":")
	return param, ok && strings.EqualFold(strings.TrimSpace(name), "regex")
}

// closingDelimiter is the delimiter that ends a PCRE pattern opened by d.
func closingDelimiter(d byte) byte {
	switch d {
	case '(':
		return ')'
	case '[':
		return ']'
	case '{':
		return '}'
	case '<':
		return '>'
	}
	return d
}

// pcreClosed reports whether pat, a PCRE pattern with delimiters, has its
// closing delimiter followed only by flags.
func pcreClosed(pat string) bool {
	if len(pat) < 2 {
		return false
	}
	i := strings.LastIndexByte(pat[1:], closingDelimiter(pat[0]))
	return i >= 0 && isFlags(pat[i+2:])
}

func isFlags(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// pcreToGo converts a PHP (PCRE) pattern with delimiters and flags, such
// as "/^[a-z]+$/i", into a Go regular expression. Flags i, m and s carry
// over; u and D need nothing; any other flag, and any construct Go's RE2
// lacks (lookaround, backreferences), is an error.
func pcreToGo(pat string) (string, error) {
	notDelimited := errors.New("is not a delimited regular expression such as /^[a-z]+$/")
	if len(pat) < 2 {
		return "", notDelimited
	}
	d := pat[0]
	if d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d >= '0' && d <= '9' || d == '\\' || d == ' ' {
		return "", notDelimited
	}
	end := strings.LastIndexByte(pat[1:], closingDelimiter(d)) + 1
	if end <= 0 {
		return "", errors.New("has no closing delimiter")
	}
	body, flags := pat[1:end], pat[end+1:]
	var goFlags string
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's':
			if !strings.ContainsRune(goFlags, f) {
				goFlags += string(f)
			}
		case 'u', 'D':
		default:
			return "", fmt.Errorf("flag %q is not supported", f)
		}
	}
	if goFlags != "" {
		body = "(?" + goFlags + ")" + body
	}
	if _, err := regexp.Compile(body); err != nil {
		return "", fmt.Errorf("cannot run on Go's regular expressions (RE2): %s", regexpReason(err))
	}
	return body, nil
}

// Patterns that stand in for Laravel's character-class rules.
const (
	alphaPattern     = `^[\pL\pM]+$`
	alphaNumPattern  = `^[\pL\pM\pN]+$`
	alphaDashPattern = `^[\pL\pM\pN_-]+$`
	urlPattern       = `^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+\S*$`
	lowercasePattern = `^\P{Lu}*$`
	uppercasePattern = `^\P{Ll}*$`
)

// applyRules sets v's rules from Laravel rule strings. A rule Berth cannot
// check (one that compares with another field, say, or a pattern RE2
// cannot run) is left out with a warning: the template still runs, and
// the operator knows which check is gone. A rule Berth knows but whose
// parameters make no sense (max:x) is an error, as it is in Laravel.
func applyRules(v *Variable, rules []string, field string, w *warnings) error {
	for _, rule := range rules {
		name, param, _ := strings.Cut(strings.TrimSpace(rule), ":")
		name = strings.ToLower(strings.TrimSpace(name))
		skip, err := applyRule(v, name, param)
		if err != nil {
			return fault.InvalidField(field, "%s: %s", truncate(rule), err.Error())
		}
		if skip != "" {
			w.add(field, "%s: %s", truncate(rule), skip)
		}
	}
	return nil
}

// applyRule sets one rule; skip says why it was left out, if it was.
func applyRule(v *Variable, name, param string) (skip string, err error) {
	switch name {
	case "":
	case "required":
		v.Required = true
	case "nullable", "sometimes", "bail", "present", "filled":
		// Berth skips the other rules for an empty value anyway.
	case "string":
		err = setType(v, TypeString)
	case "integer", "int":
		err = setType(v, TypeInt)
	case "numeric":
		err = setType(v, TypeNumber)
	case "boolean", "bool":
		err = setType(v, TypeBool)
	case "accepted":
		v.Required = true
		v.OneOf = []string{"yes", "on", "1", "true"}
	case "in":
		v.OneOf, err = ruleParams(param, 1, -1)
	case "not_in":
		v.NotOneOf, err = ruleParams(param, 1, -1)
	case "min", "max", "size", "between", "gt", "gte", "lt", "lte":
		return applyBound(v, name, param)
	case "regex":
		var re string
		if re, err = pcreToGo(param); err != nil {
			return "left out: the pattern " + err.Error(), nil
		}
		return setRegex(v, re), nil
	default:
		if re, ok := patternRule(name, param); ok {
			if re == "" {
				return "", fmt.Errorf("needs whole-number parameters")
			}
			return setRegex(v, re), nil
		}
		return "left out: Berth does not check this rule", nil
	}
	return "", err
}

// applyBound sets a size rule: a length for a string, a value for a
// number. gt and lt, unlike min and max, exclude the bound itself. A
// parameter that is not a number names another field in Laravel, which
// Berth cannot compare with.
func applyBound(v *Variable, name, param string) (string, error) {
	count := 1
	if name == "between" {
		count = 2
	}
	n, err := ruleInts(param, count)
	if err != nil {
		if (name == "gt" || name == "gte" || name == "lt" || name == "lte") && !strings.ContainsAny(param, "0123456789") {
			return "left out: Berth cannot compare with another field", nil
		}
		return "", err
	}
	switch name {
	case "min", "gte":
		v.Min, v.MinExclusive = &n[0], false
	case "gt":
		v.Min, v.MinExclusive = &n[0], true
	case "max", "lte":
		v.Max, v.MaxExclusive = &n[0], false
	case "lt":
		v.Max, v.MaxExclusive = &n[0], true
	case "size":
		v.Min, v.Max, v.MinExclusive, v.MaxExclusive = &n[0], &n[0], false, false
	case "between":
		v.Min, v.Max, v.MinExclusive, v.MaxExclusive = &n[0], &n[1], false, false
	}
	return "", nil
}

// patternRule returns the regular expression that stands in for one of
// Laravel's character-class rules, and whether name is one; "" for a rule
// whose parameters are wrong.
func patternRule(name, param string) (string, bool) {
	switch name {
	case "alpha":
		return alphaPattern, true
	case "alpha_num":
		return alphaNumPattern, true
	case "alpha_dash":
		return alphaDashPattern, true
	case "url", "active_url":
		return urlPattern, true
	case "lowercase":
		return lowercasePattern, true
	case "uppercase":
		return uppercasePattern, true
	case "digits":
		n, err := ruleInts(param, 1)
		if err != nil {
			return "", true
		}
		return fmt.Sprintf(`^[0-9]{%d}$`, n[0]), true
	case "digits_between":
		n, err := ruleInts(param, 2)
		if err != nil {
			return "", true
		}
		return fmt.Sprintf(`^[0-9]{%d,%d}$`, n[0], n[1]), true
	case "starts_with", "ends_with":
		words, err := ruleParams(param, 1, -1)
		if err != nil {
			return "", true
		}
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		if name == "ends_with" {
			return "(?:" + strings.Join(words, "|") + ")$", true
		}
		return "^(?:" + strings.Join(words, "|") + ")", true
	}
	return "", false
}

// setType sets the variable's type. "string" is the weakest: a rule list
// that says string and integer means an integer.
func setType(v *Variable, typ string) error {
	switch {
	case v.Type == "" || v.Type == TypeString:
		v.Type = typ
	case typ != TypeString && typ != v.Type:
		return fmt.Errorf("conflicts with the earlier %s rule", v.Type)
	}
	return nil
}

// setRegex sets the variable's one pattern; a second is left out, and
// the reason returned.
func setRegex(v *Variable, re string) string {
	if v.Regex != "" {
		return "left out: a variable has one pattern rule (regex, alpha, digits, url, ...) in Berth, and this is the second"
	}
	v.Regex = re
	return ""
}

// ruleParams reads a rule's comma-separated parameters, quoted as CSV
// when they contain commas, as Laravel's Rule::in writes them.
func ruleParams(param string, min, max int) ([]string, error) {
	r := csv.NewReader(strings.NewReader(param))
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	rec, err := r.Read()
	if err != nil || len(rec) < min || max >= 0 && len(rec) > max {
		if max == min {
			return nil, fmt.Errorf("needs %d parameter(s)", min)
		}
		return nil, fmt.Errorf("needs at least %d parameter(s)", min)
	}
	return rec, nil
}

// ruleInts reads exactly n whole-number parameters.
func ruleInts(param string, n int) ([]int64, error) {
	words, err := ruleParams(param, n, n)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	for i, w := range words {
		if out[i], err = strconv.ParseInt(strings.TrimSpace(w), 10, 64); err != nil {
			return nil, fmt.Errorf("%q is not a whole number", truncate(w))
		}
	}
	return out, nil
}
