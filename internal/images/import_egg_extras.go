package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/configfiles"
	"github.com/berth-dev/berth/internal/fault"
)

// eggExtras reads what an egg says about the files of the data folder:
// config.files, the configuration the node rewrites before each start,
// and file_denylist, the files the file API refuses to touch.
func eggExtras(top map[string]json.RawMessage) ([]ConfigFile, []string, error) {
	config, err := objectField(top["config"], "config")
	if err != nil {
		return nil, nil, err
	}
	files, err := eggConfigFiles(config["files"])
	if err != nil {
		return nil, nil, err
	}
	deny, err := stringsField(top, "file_denylist", "file_denylist")
	if err != nil {
		return nil, nil, err
	}
	var kept []string
	for _, p := range deny {
		if strings.TrimSpace(p) != "" {
			kept = append(kept, p)
		}
	}
	t := Template{ConfigFiles: files, FileDenylist: kept}
	if err := t.CheckFiles(); err != nil {
		return nil, nil, err
	}
	return files, kept, nil
}

// eggConfigFiles reads config.files: an object (often written as a JSON
// string, as eggs write their config sections) of file path to {parser,
// find}. find maps each key to its value, or to an object of if_value to
// value; Pterodactyl's panel turns the latter into one replacement per
// member, and so does this. An entry without find is skipped, as the
// panel skips it. File and key order is kept: replacements apply in order.
func eggConfigFiles(raw json.RawMessage) ([]ConfigFile, error) {
	const field = "config.files"
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	if isNull(raw) || strings.TrimSpace(string(raw)) == "" {
		return nil, nil
	}
	members, err := orderedObject(raw, field)
	if err != nil {
		return nil, fault.InvalidField(field, "must be an object, or a string holding a JSON object")
	}
	var out []ConfigFile
	for _, m := range members {
		ff := fmt.Sprintf("%s[%q]", field, m.key)
		obj, err := objectField(m.value, ff)
		if err != nil {
			return nil, err
		}
		if isNull(obj["find"]) {
			continue
		}
		f := ConfigFile{Path: strings.TrimLeft(strings.TrimSpace(m.key), "/")}
		if err := checkRelativePath(ff, f.Path); err != nil {
			return nil, err
		}
		if f.Parser, err = eggParser(obj, ff+".parser"); err != nil {
			return nil, err
		}
		if f.Replace, err = eggFind(obj["find"], ff+".find"); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if len(out) > maxConfigFiles {
		return nil, fault.InvalidField(field, "at most %d files are allowed", maxConfigFiles)
	}
	return out, nil
}

// eggParser reads a file's parser, in lower case; Wings reads "yml" as
// yaml.
func eggParser(obj map[string]json.RawMessage, field string) (string, error) {
	p, err := stringField(obj, "parser", field)
	if err != nil {
		return "", err
	}
	p = strings.ToLower(strings.TrimSpace(p))
	if p == "yml" {
		p = configfiles.YAML
	}
	if !configfiles.KnownParser(p) {
		return "", fault.InvalidField(field, "%q is not a parser Berth knows (%s)",
			truncate(p), strings.Join(configfiles.Parsers, ", "))
	}
	return p, nil
}

// eggFind reads one file's find object into replacements.
func eggFind(raw json.RawMessage, field string) ([]ConfigReplace, error) {
	members, err := orderedObject(raw, field)
	if err != nil {
		return nil, err
	}
	var out []ConfigReplace
	for _, m := range members {
		f := fmt.Sprintf("%s[%q]", field, m.key)
		value := bytes.TrimSpace(m.value)
		switch {
		case isNull(value):
			// Nothing to set; the panel would send Wings a value it
			// writes as "<nil>".
		case isJSONScalar(value):
			out = append(out, ConfigReplace{Match: m.key, Value: compactJSON(value)})
			if err := checkConfigReplace(f, out[len(out)-1]); err != nil {
				return nil, err
			}
		case value[0] == '{':
			conds, err := orderedObject(value, f)
			if err != nil {
				return nil, err
			}
			for _, c := range conds {
				if !isJSONScalar(c.value) {
					return nil, fault.InvalidField(fmt.Sprintf("%s[%q]", f, c.key), "must be a string, number or boolean")
				}
				out = append(out, ConfigReplace{Match: m.key, IfValue: c.key, Value: compactJSON(c.value)})
				if err := checkConfigReplace(f, out[len(out)-1]); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fault.InvalidField(f, "must be a string, number, boolean, or an object of if_value to value")
		}
	}
	if len(out) > maxConfigReplaces {
		return nil, fault.InvalidField(field, "at most %d replacements are allowed", maxConfigReplaces)
	}
	return out, nil
}

// compactJSON is raw without insignificant white space.
func compactJSON(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return json.RawMessage(raw)
	}
	return json.RawMessage(b.Bytes())
}
