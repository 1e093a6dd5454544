package configfiles

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// str is a replacement that sets a text value.
func str(match, value string) Replacement {
	return Replacement{Match: match, Value: Value{Text: value}}
}

// when is a replacement with an IfValue.
func when(match, ifValue, value string) Replacement {
	return Replacement{Match: match, IfValue: ifValue, Value: Value{Text: value}}
}

// goldenCases rewrite real-shaped files in testdata: NAME.in becomes
// NAME.want.
var goldenCases = []struct {
	file, parser string
	reps         []Replacement
}{
	{"server.properties", Properties, []Replacement{
		str("server-port", "25600"),
		str("query.port", "25600"),
		str("server-ip", "0.0.0.0"),
		str("motd", "Héllo wörld 🎮"),
		{Match: "enable-query", Value: Value{Text: "true", Kind: Bool}},
		when("rcon.port", "1", "25601"),
		when("white-list", "false", "true"),
		when("online-mode", "regex:^true$", "false"),
	}},
	{"config.yml", YAML, []Replacement{
		str("listeners[0].query_port", "25600"),
		str("listeners[0].host", "0.0.0.0:25600"),
		when("servers.*.address", `regex:^(127\.0\.0\.1|localhost)(:\d{1,5})?$`, "0.0.0.0$2"),
		{Match: "online_mode", Value: Value{Text: "false", Kind: Bool}},
		{Match: "ip_forward", Value: Value{Text: "true", Kind: Bool}},
		when("servers.lobby.restricted", "true", "x"),
	}},
	{"config.json", JSON, []Replacement{
		str("network.port", "25600"),
		str("network.bind", "0.0.0.0"),
		str("admins[2]", "carol"),
		str("admins.0", "root"),
		str("extra.nested.key", "<v&>"),
		{Match: "ratio", Value: Value{Text: "1.5", Kind: Number}},
		when("name", "Other", "changed"),
		str("admins[7]", "too far"),
	}},
	{"GameUserSettings.ini", INI, []Replacement{
		str("ServerSettings.RCONPort", "25601"),
		str("[SessionSettings].SessionName", "Berth #1"),
		str("[/Script/Engine.GameSession].MaxPlayers", "20"),
		str("ServerSettings.ServerAdminPassword", "secret"),
		str("MessageOfTheDay.Message", "Welcome"),
		when("SessionSettings.Port", "7777", "25600"),
		when("SessionSettings.QueryPort", "", "25602"),
		when("ServerSettings.ActiveMods", "nope", "1"),
	}},
	{"serverconfig.xml", XML, []Replacement{
		str("ServerSettings.property[@name='ServerPort']", "[value='25600']"),
		str("ServerSettings.Telnet.Port", "25602"),
		when("ServerSettings.Telnet.Port", "regex:^(\\d+)$", "$1"),
		when("ServerSettings.*", "nothing", "x"),
	}},
	{"start.cfg", File, []Replacement{
		str("set net_port", "set net_port 25600"),
		str("set net_ip", "set net_ip 0.0.0.0"),
		str("set sv_maxclients", "set sv_maxclients 10"),
	}},
}

func TestRewriteGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", c.file+".in"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Rewrite(c.parser, in, c.reps)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			wantFile := filepath.Join("testdata", c.file+".want")
			if *update {
				if err := os.WriteFile(wantFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Rewrite(%s) =\n%s\nwant\n%s", c.file, got, want)
			}
		})
	}
}

// TestRewriteIsStable checks that applying the same replacements to a
// file already rewritten changes nothing, so an unchanged file is not
// written again at every start.
func TestRewriteIsStable(t *testing.T) {
	for _, c := range goldenCases {
		want, err := os.ReadFile(filepath.Join("testdata", c.file+".want"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Rewrite(c.parser, want, c.reps)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: a second rewrite changed the file:\n%s", c.file, got)
		}
	}
}

func TestRewriteCreatesMissingFile(t *testing.T) {
	port := str("server.port", "25600")
	cases := []struct {
		parser string
		want   string
	}{
		{Properties, "server.port=25600\n"},
		{INI, "[server]\nport=25600\n"},
		{YAML, "server:\n  port: 25600\n"},
		{JSON, "{\n    \"server\": {\n        \"port\": 25600\n    }\n}\n"},
		{XML, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<server>\n    <port>25600</port>\n</server>\n"},
		{File, ""},
	}
	for _, c := range cases {
		got, err := Rewrite(c.parser, nil, []Replacement{port})
		if err != nil {
			t.Fatalf("%s: %v", c.parser, err)
		}
		if string(got) != c.want {
			t.Errorf("%s: new file is %q, want %q", c.parser, got, c.want)
		}
		if CreatesMissing(c.parser) != (c.want != "") {
			t.Errorf("%s: CreatesMissing = %v", c.parser, CreatesMissing(c.parser))
		}
	}
}

func TestRewriteRefusesBrokenFile(t *testing.T) {
	cases := []struct{ parser, content, want string }{
		{JSON, `{"port": 1,`, "not valid JSON"},
		{JSON, `{"a": 1} trailing`, "not valid JSON"},
		{YAML, "a: [1, 2\nb: c\n", "not valid YAML"},
		{YAML, "just a string\n", "single value"},
		{XML, "<a><b></a>", "not valid XML"},
		{"toml", "a = 1", "unknown parser"},
	}
	for _, c := range cases {
		_, err := Rewrite(c.parser, []byte(c.content), []Replacement{str("a", "2")})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Rewrite(%s, %q) = %v, want an error with %q", c.parser, c.content, err, c.want)
		}
	}
}

func TestRewriteSkipsBadRegex(t *testing.T) {
	got, err := Rewrite(Properties, []byte("a=1\n"), []Replacement{when("a", "regex:(", "2"), str("b", "3")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "a=1\nb=3\n" {
		t.Errorf("got %q, want the bad replacement skipped and the next applied", got)
	}
}

func TestPropertiesUnescape(t *testing.T) {
	props := readProperties([]string{`key\ with\:colon = caf\u00e9\tx`, `  spaced   value here`, `empty`})
	want := []property{
		{key: "key with:colon", value: "café\tx", first: 0, last: 0},
		{key: "spaced", value: "value here", first: 1, last: 1},
		{key: "empty", value: "", first: 2, last: 2},
	}
	if len(props) != len(want) {
		t.Fatalf("read %d properties, want %d", len(props), len(want))
	}
	for i := range want {
		if props[i] != want[i] {
			t.Errorf("property %d = %+v, want %+v", i, props[i], want[i])
		}
	}
}

func TestRender(t *testing.T) {
	p := Placeholders{Port: 25600, IP: "0.0.0.0", MemoryMiB: 2048, Interface: "0.0.0.0",
		Env: map[string]string{"MOTD": "hi", "SERVER_PORT": "1"}}
	cases := map[string]string{
		"{{server.build.default.port}}":                                         "25600",
		"{{ server.build.default.ip }}:{{env.SERVER_PORT}}":                     "0.0.0.0:25600",
		"{{server.build.memory}}M":                                              "2048M",
		"{{server.allocations.default.ip}}:{{server.allocations.default.port}}": "0.0.0.0:25600",
		"{{config.docker.interface}}$2":                                         "0.0.0.0$2",
		"{{env.MOTD}} {{server.build.env.MOTD}} {{MOTD}}":                       "hi hi hi",
		"[{{env.MISSING}}][{{server.build.swap}}]":                              "[][]",
		"{{config.other}} {{UNKNOWN}}":                                          "{{config.other}} {{UNKNOWN}}",
	}
	for in, want := range cases {
		if got := p.Render(in); got != want {
			t.Errorf("Render(%q) = %q, want %q", in, got, want)
		}
	}
}
