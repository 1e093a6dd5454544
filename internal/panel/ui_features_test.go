package panel_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/images"
)

// featuresTemplate is a Minecraft-like template with every egg feature the
// instance pages act on, and another image to offer.
var featuresTemplate = images.Template{
	Name: "Featured", Image: "ghcr.io/berth-dev/game:1", AltImages: []string{"ghcr.io/berth-dev/game:java21"},
	StopCommand: "stop", Features: []string{"eula", "pid_limit", "java_version", "steam_disk_space"},
}

// eulaText is the EULA notice's words.
const eulaText = "This server needs you to accept the Minecraft EULA"

// featurePages is a client panel with an instance of featuresTemplate and
// one of a template without features, both ann's; bob may read the
// console, cy may also write files and take power actions.
type featurePages struct {
	*clientPanel
	featured, plain string
}

func newFeaturePages(t *testing.T) featurePages {
	t.Helper()
	c := newClientPanel(t)
	ann, bob, cy := c.user("ann", false), c.user("bob", false), c.user("cy", false)
	body := deployBody(ann, c.nodeID, "25610", "25610")
	body["image"] = addTemplate(t, c.st, featuresTemplate)
	featured := c.deploy(body)
	applyOnNode(t, c.testPanel, c.node, featured)
	plain := c.readyInstanceOf(ann, "25611")
	for _, id := range []string{featured, plain} {
		c.grant(id, bob, access.ConsoleRead)
		c.grant(id, cy, access.ConsoleRead, access.FilesWrite, access.Power)
	}
	for _, who := range []string{"ann", "bob", "cy"} {
		c.sessionFor(who, who)
	}
	return featurePages{clientPanel: c, featured: featured, plain: plain}
}

// writeEULA sets the featured instance's eula.txt, or removes it when
// content is "".
func (f featurePages) writeEULA(content string) {
	f.t.Helper()
	p := filepath.Join(dataDir(f.node, f.featured), "eula.txt")
	err := os.WriteFile(p, []byte(content), 0o644)
	if content == "" {
		err = os.Remove(p)
		if os.IsNotExist(err) {
			err = nil
		}
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

// noticeTag finds a feature notice's opening tag and its feature.
var noticeTag = regexp.MustCompile(`<div class="notice-bar feature-notice" data-feature="(\w+)"[^>]*>`)

// notices reads the feature notices of a page: each feature, and whether
// its notice is shown now (not hidden).
func notices(body string) map[string]bool {
	got := map[string]bool{}
	for _, m := range noticeTag.FindAllStringSubmatch(body, -1) {
		got[m[1]] = !regexp.MustCompile(`\shidden[\s>]`).MatchString(m[0])
	}
	return got
}

func TestEULANoticeIsShownUntilEulaTxtAcceptsIt(t *testing.T) {
	f := newFeaturePages(t)
	for _, tc := range []struct {
		name, content string
		shown         bool
	}{
		{"missing", "", true},
		{"false", "#By changing the setting below to TRUE you are indicating your agreement.\neula=false\n", true},
		{"true in a comment only", "#eula=true\n", true},
		{"true", "#Mon Jan 01 00:00:00 UTC 2024\neula=true\n", false},
		{"TRUE with spaces", "eula = TRUE\r\n", false},
	} {
		f.writeEULA(tc.content)
		for _, path := range []string{"/instances/" + f.featured, "/instances/" + f.featured + "/console"} {
			body := f.expectPage(200, f.callers["ann"].cookie, path, eulaText, "https://aka.ms/MinecraftEULA",
				`data-match="you need to agree to the eula"`, "/static/features.")
			if got := notices(body)["eula"]; got != tc.shown {
				t.Errorf("eula.txt %s, %s: the EULA notice shown %v, want %v", tc.name, path, got, tc.shown)
			}
			if settled := strings.Contains(body, "data-settled"); settled == tc.shown {
				t.Errorf("eula.txt %s, %s: data-settled %v, want %v", tc.name, path, settled, !tc.shown)
			}
			lacks(t, path, body, f.key, f.nodeToken())
		}
	}
}

func TestEULAAcceptButtonOnlyForViewersWhoMayWriteFiles(t *testing.T) {
	f := newFeaturePages(t)
	for _, tc := range []struct {
		who           string
		accept, start bool
	}{
		{"ann", true, true},
		{"cy", true, true},
		{"bob", false, false},
	} {
		for _, path := range []string{"/instances/" + f.featured, "/instances/" + f.featured + "/console"} {
			body := f.expectPage(200, f.callers[tc.who].cookie, path, eulaText)
			if !notices(body)["eula"] {
				t.Errorf("%s, %s: the EULA notice is not shown", tc.who, path)
			}
			if got := strings.Contains(body, "data-accept-eula"); got != tc.accept {
				t.Errorf("%s, %s: the accept button offered %v, want %v", tc.who, path, got, tc.accept)
			}
			if got := strings.Contains(body, "data-start-after"); got != tc.start {
				t.Errorf("%s, %s: the start button offered %v, want %v", tc.who, path, got, tc.start)
			}
			if !tc.accept && !strings.Contains(body, "Accepting it takes the files.write permission") {
				t.Errorf("%s, %s: the notice does not say why there is no button", tc.who, path)
			}
		}
	}
}

func TestAcceptingTheEULAWritesEulaTxtThroughTheFilesRoute(t *testing.T) {
	f := newFeaturePages(t)
	r := f.do(clientRequest{method: "PUT", path: "/api/client/instances/" + f.featured + "/files/content?path=eula.txt",
		as: "cy", body: "eula=true\n", contentType: "text/plain; charset=utf-8"})
	if r.code != 200 {
		t.Fatalf("PUT eula.txt as cy: %d %s", r.code, r.body)
	}
	body := f.expectPage(200, f.callers["cy"].cookie, "/instances/"+f.featured, eulaText)
	if notices(body)["eula"] {
		t.Error("the EULA notice is still shown after eula.txt was written by the files route")
	}
}

func TestPagesOfATemplateWithoutFeaturesHaveNoNotices(t *testing.T) {
	f := newFeaturePages(t)
	for _, path := range []string{"/instances/" + f.plain, "/instances/" + f.plain + "/console"} {
		body := f.expectPage(200, f.callers["ann"].cookie, path)
		without(t, path, body, eulaText, "feature-notice", "data-accept-eula")
	}
}

func TestConsoleExplainsTheOtherFeaturesWhenTheirLinesAppear(t *testing.T) {
	f := newFeaturePages(t)
	f.writeEULA("eula=true\n")
	console := f.expectPage(200, f.callers["bob"].cookie, "/instances/"+f.featured+"/console",
		`data-match="unable to create native thread|unable to create new native thread|fork: resource temporarily unavailable"`,
		"at most 512 at once",
		`data-match="not enough disk space"`, "its disk limit of 1.0 GiB",
		`data-match="unsupportedclassversionerror|has been compiled by a more recent version of the java runtime"`,
		"the template&#39;s other images: ghcr.io/berth-dev/game:java21.")
	got := notices(console)
	for _, feature := range []string{"eula", "pid_limit", "java_version", "steam_disk_space"} {
		shown, ok := got[feature]
		if !ok || shown {
			t.Errorf("the console's %s notice: present %v, shown %v; want present and hidden until its line appears", feature, ok, shown)
		}
	}
	overview := f.expectPage(200, f.callers["bob"].cookie, "/instances/"+f.featured, eulaText)
	without(t, "the overview", overview, `data-feature="pid_limit"`, `data-feature="java_version"`, `data-feature="steam_disk_space"`)
}
