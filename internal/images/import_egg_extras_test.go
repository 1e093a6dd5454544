package images

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// eggWithFiles is an egg shaped like a Minecraft proxy's: config.files as
// a string holding JSON (as exports write it), a scalar find, an
// if_value object, a number, a null, the "yml" parser, and a denylist.
const eggWithFiles = `{
	"meta": {"version": "PTDL_v2"},
	"name": "Proxy",
	"docker_images": {"Java 21": "ghcr.io/example/java:21"},
	"startup": "java -jar proxy.jar",
	"features": ["eula", "java_version"],
	"file_denylist": ["proxy.jar", "", "!plugins/*.jar"],
	"config": {
		"files": "{\n \"config.yml\": {\"parser\": \"yml\", \"find\": {\"listeners[0].host\": \"0.0.0.0:{{server.build.default.port}}\", \"servers.*.address\": {\"regex:^(127\\\\.0\\\\.0\\\\.1|localhost)(:\\\\d{1,5})?$\": \"{{config.docker.interface}}$2\"}, \"player_limit\": 20, \"ignored\": null}},\n \"/server.properties\": {\"parser\": \"properties\", \"find\": {\"server-port\": \"{{server.build.default.port}}\", \"online-mode\": false}},\n \"notes.txt\": {\"parser\": \"file\"}\n}",
		"startup": "{\"done\": \"Listening on \"}",
		"stop": "end"
	}
}`

func TestImportEggConfigFilesAndDenylist(t *testing.T) {
	tmpl, err := Import([]byte(eggWithFiles))
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfigFile{
		{Path: "config.yml", Parser: "yaml", Replace: []ConfigReplace{
			{Match: "listeners[0].host", Value: json.RawMessage(`"0.0.0.0:{{server.build.default.port}}"`)},
			{Match: "servers.*.address", IfValue: `regex:^(127\.0\.0\.1|localhost)(:\d{1,5})?$`,
				Value: json.RawMessage(`"{{config.docker.interface}}$2"`)},
			{Match: "player_limit", Value: json.RawMessage(`20`)},
		}},
		{Path: "server.properties", Parser: "properties", Replace: []ConfigReplace{
			{Match: "server-port", Value: json.RawMessage(`"{{server.build.default.port}}"`)},
			{Match: "online-mode", Value: json.RawMessage(`false`)},
		}},
	}
	if !reflect.DeepEqual(tmpl.ConfigFiles, want) {
		t.Errorf("ConfigFiles =\n%+v\nwant\n%+v", tmpl.ConfigFiles, want)
	}
	if deny := []string{"proxy.jar", "!plugins/*.jar"}; !reflect.DeepEqual(tmpl.FileDenylist, deny) {
		t.Errorf("FileDenylist = %q, want %q", tmpl.FileDenylist, deny)
	}
	if !reflect.DeepEqual(tmpl.Features, []string{"eula", "java_version"}) {
		t.Errorf("features = %q", tmpl.Features)
	}
	// Stored and read back, the template keeps them.
	doc, err := Encode(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.ConfigFiles, tmpl.ConfigFiles) || !reflect.DeepEqual(back.FileDenylist, tmpl.FileDenylist) {
		t.Errorf("a stored template lost its files: %s", doc)
	}
}

func TestImportEggRefusesBadConfigFiles(t *testing.T) {
	cases := []struct{ files, want string }{
		{`{"a.toml": {"parser": "toml", "find": {"a": "b"}}}`, `config.files["a.toml"].parser: "toml" is not a parser`},
		{`{"a.yml": {"parser": "yaml", "find": {"a": ["b"]}}}`, `config.files["a.yml"].find["a"]: must be a string, number, boolean`},
		{`{"a.yml": {"parser": "yaml", "find": {"a": {"x": {"y": 1}}}}}`, `config.files["a.yml"].find["a"]["x"]: must be a string`},
		{`{"../a.yml": {"parser": "yaml", "find": {"a": "b"}}}`, `config.files["../a.yml"]: "../a.yml" must be a clean relative path`},
		{`[1]`, `config.files: must be an object`},
	}
	for _, c := range cases {
		files, _ := json.Marshal(c.files)
		doc := strings.Replace(eggWithFiles, `"files": "{`, `"files": `+string(files)+`, "x": "{`, 1)
		_, err := Import([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config.files %s: error %v, want one with %q", c.files, err, c.want)
		}
	}
}
