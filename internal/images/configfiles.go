package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/configfiles"
	"github.com/berth-dev/berth/internal/fault"
)

// ConfigFile is one configuration file of the game that the node rewrites
// in the data folder before every start (see package configfiles for how
// each parser reads a Match).
type ConfigFile struct {
	// Path is the file, relative to the data folder. A missing file is
	// created, except for the file parser.
	Path string `json:"Path"`
	// Parser is how the file is read: properties, ini, json, yaml, xml or
	// file.
	Parser string `json:"Parser"`
	// Replace lists the keys to set, in order.
	Replace []ConfigReplace `json:"Replace"`
}

// ConfigReplace sets one key of a ConfigFile.
type ConfigReplace struct {
	// Match is the key: a dotted path (json, yaml, xml), a key
	// (properties), "section.key" (ini) or a line prefix (file).
	Match string `json:"Match"`
	// IfValue, when set, limits the replacement to a key holding that
	// value, or matching it when written "regex:...".
	IfValue string `json:"IfValue,omitempty"`
	// Value is a JSON string, number or boolean. A string's placeholders
	// ({{server.build.default.port}}, {{env.NAME}}, ...) are rendered by
	// the node at each start.
	Value json.RawMessage `json:"Value"`
}

// Limits of config files and the denylist.
const (
	maxConfigFiles    = 64
	maxConfigReplaces = 256
	maxConfigMatch    = 1024
	maxConfigValue    = 4096
	maxDenylist       = 256
	maxDenyPattern    = 1024
)

// checkConfigFiles checks a template's config files.
func checkConfigFiles(field string, list []ConfigFile) error {
	if len(list) > maxConfigFiles {
		return fault.InvalidField(field, "at most %d files are allowed", maxConfigFiles)
	}
	for i, f := range list {
		ff := fmt.Sprintf("%s[%d]", field, i)
		if err := checkRelativePath(ff+".Path", f.Path); err != nil {
			return err
		}
		if !configfiles.KnownParser(f.Parser) {
			return fault.InvalidField(ff+".Parser", "%q is not a parser Berth knows (%s)",
				truncate(f.Parser), strings.Join(configfiles.Parsers, ", "))
		}
		if len(f.Replace) > maxConfigReplaces {
			return fault.InvalidField(ff+".Replace", "at most %d replacements are allowed", maxConfigReplaces)
		}
		for j, r := range f.Replace {
			if err := checkConfigReplace(fmt.Sprintf("%s.Replace[%d]", ff, j), r); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkConfigReplace(field string, r ConfigReplace) error {
	if err := checkText(field+".Match", r.Match, maxConfigMatch, true, false); err != nil {
		return err
	}
	if err := checkText(field+".IfValue", r.IfValue, maxConfigMatch, false, false); err != nil {
		return err
	}
	if len(r.Value) > maxConfigValue {
		return fault.InvalidField(field+".Value", "must be at most %d bytes", maxConfigValue)
	}
	if !isJSONScalar(r.Value) {
		return fault.InvalidField(field+".Value", "must be a string, number or boolean")
	}
	return nil
}

// isJSONScalar reports whether raw is one JSON string, number or boolean.
func isJSONScalar(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !json.Valid(raw) {
		return false
	}
	switch raw[0] {
	case '{', '[', 'n':
		return false
	}
	return true
}

// checkDenylist checks a template's file denylist.
func checkDenylist(field string, patterns []string) error {
	if len(patterns) > maxDenylist {
		return fault.InvalidField(field, "at most %d patterns are allowed", maxDenylist)
	}
	for i, p := range patterns {
		if err := checkText(fmt.Sprintf("%s[%d]", field, i), p, maxDenyPattern, true, false); err != nil {
			return err
		}
	}
	return nil
}

// CheckFiles checks the fields about the data folder's files that the
// node acts on: ConfigFiles and FileDenylist.
func (t Template) CheckFiles() error {
	if err := checkConfigFiles("ConfigFiles", t.ConfigFiles); err != nil {
		return err
	}
	return checkDenylist("FileDenylist", t.FileDenylist)
}
