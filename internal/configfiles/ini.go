package configfiles

import (
	"strings"
)

// An ini file is edited line by line too. Wings goes through a parser that
// writes the file out again its own way; for the Unreal Engine files many
// eggs edit that loses keys written twice (+ServerActors=...) and quotes
// values holding '=' or ':', which the game then misreads. Here a replaced
// key keeps its line up to the value, and a new key goes at the end of its
// section, or in a new section at the end of the file.

// iniPath splits a Match into its section and key, as Wings does:
// "section.key", "[/Script/Engine.GameSession].MaxPlayers" when the
// section holds dots, or a bare key, which belongs before any section.
func iniPath(match string) (section, key string) {
	if strings.HasPrefix(match, "[") {
		if end := strings.Index(match, "]"); end > 0 {
			return match[1:end], strings.TrimPrefix(match[end+1:], ".")
		}
	}
	if section, key, ok := strings.Cut(match, "."); ok {
		return section, key
	}
	return "", match
}

// iniEntry is a key line of an ini file.
type iniEntry struct {
	section, key, value string
	// valueAt is where the value starts in the line.
	valueAt int
}

// readINILine reads a key line; ok is false for a blank line, a comment or
// a section header.
func readINILine(line string) (key, value string, valueAt int, ok bool) {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || trimmed[0] == ';' || trimmed[0] == '#' || trimmed[0] == '[' {
		return "", "", 0, false
	}
	at := strings.IndexByte(line, '=')
	if at < 0 {
		at = strings.IndexByte(line, ':')
	}
	if at < 0 {
		return "", "", 0, false
	}
	valueAt = at + 1
	for valueAt < len(line) && (line[valueAt] == ' ' || line[valueAt] == '\t') {
		valueAt++
	}
	return strings.TrimSpace(line[:at]), strings.TrimSpace(line[valueAt:]), valueAt, true
}

// iniHeader reads a section header line.
func iniHeader(line string) (string, bool) {
	trimmed := strings.TrimSpace(line)
	end := strings.IndexByte(trimmed, ']')
	if !strings.HasPrefix(trimmed, "[") || end < 0 {
		return "", false
	}
	return strings.TrimSpace(trimmed[1:end]), true
}

// rewriteINI applies reps to an ini file.
func rewriteINI(content []byte, reps []Replacement) []byte {
	l := splitLines(content)
	grew := false
	for _, r := range reps {
		section, key := iniPath(r.Match)
		cond, err := compileCondition(r.IfValue)
		if err != nil || key == "" {
			continue
		}
		found, insertAt, known := setINIKey(l.text, section, key, cond, r.Value)
		if found || cond != nil {
			continue
		}
		line := key + "=" + r.Value.Text
		switch {
		case known:
			l.text = insertLines(l.text, insertAt, line)
		default:
			add := []string{"[" + section + "]", line}
			if n := len(l.text); n > 0 && strings.TrimSpace(l.text[n-1]) != "" {
				add = append([]string{""}, add...)
			}
			l.text = append(l.text, add...)
		}
		grew = true
	}
	return l.bytes(grew)
}

// setINIKey sets key of section in every line that holds it. When none
// does, it says where a new line for it goes: after the section's last key
// (known), or nowhere yet, as the section is missing. The keys before any
// header are section "", which always exists.
func setINIKey(text []string, section, key string, cond *condition, v Value) (found bool, insertAt int, known bool) {
	current := ""
	known = section == ""
	for i, line := range text {
		if name, ok := iniHeader(line); ok {
			current = name
			if name == section {
				known, insertAt = true, i+1
			}
			continue
		}
		if current != section {
			continue
		}
		k, value, valueAt, ok := readINILine(line)
		if !ok {
			continue
		}
		insertAt = i + 1
		if k != key {
			continue
		}
		found = true
		if nv, ok := cond.apply(value, v); ok {
			text[i] = line[:valueAt] + nv.Text
		}
	}
	return found, insertAt, known
}

// insertLines inserts add into text before index at.
func insertLines(text []string, at int, add ...string) []string {
	out := make([]string, 0, len(text)+len(add))
	out = append(out, text[:at]...)
	out = append(out, add...)
	return append(out, text[at:]...)
}
