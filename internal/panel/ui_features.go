package panel

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// The egg features the instance pages act on (docs/templates.md, "Egg
// features").
const (
	featureEULA       = "eula"
	featurePIDLimit   = "pid_limit"
	featureJava       = "java_version"
	featureSteamSpace = "steam_disk_space"
)

// instancePIDLimit is the process limit of every instance's container (the
// Docker runtime's DefaultPidsLimit), as the pid_limit notice states it.
const instancePIDLimit = 512

// eulaFile is the file a Minecraft server reads the EULA's acceptance from.
const eulaFile = "eula.txt"

// maxEULABytes is as much of eula.txt as is read: the file is a few lines.
const maxEULABytes = 64 << 10

// featureNotice is a notice one of the template's features shows on an
// instance's page: at once when Shown, else when the console prints a line
// holding one of Match (lower case, "|" between them; the page's script
// watches for them).
type featureNotice struct {
	Feature string
	Text    string
	Match   string
	Shown   bool
	// Settled is set when the notice is known not to apply (eula.txt
	// accepts the EULA): the console's replayed lines from before do not
	// show it.
	Settled bool
}

// featureNotices reads the instance's template once and returns the
// notices its features give the page: the EULA's on the overview and the
// console, the others only on the console. An instance of a plain image,
// or of a template since deleted, has none.
func (s *Server) featureNotices(r *http.Request, iv instancePageView, console bool) ([]featureNotice, error) {
	t, err := s.instanceTemplate(r, iv.in)
	if fault.Is(err, fault.NotExist) || t == nil && err == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("template of instance %s: %w", iv.in.ID, err)
	}
	var out []featureNotice
	if slices.Contains(t.Features, featureEULA) {
		pending, known := s.eulaPending(r, iv)
		out = append(out, featureNotice{Feature: featureEULA, Match: "you need to agree to the eula",
			Shown: pending, Settled: known && !pending})
	}
	if !console {
		return out, nil
	}
	for _, f := range t.Features {
		if n, ok := consoleNotice(f, t, iv.State); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// consoleNotice is the console's explanation of feature f, if Berth has
// one: what the telltale lines mean on Berth.
func consoleNotice(f string, t *images.Template, st instanceView) (featureNotice, bool) {
	switch f {
	case featurePIDLimit:
		return featureNotice{Feature: f,
			Match: "unable to create native thread|unable to create new native thread|fork: resource temporarily unavailable",
			Text: fmt.Sprintf("The server could not start another thread or process: every instance on Berth may run "+
				"at most %d at once. Lower what it runs at the same time (plugins, worker threads), then restart it.", instancePIDLimit)}, true
	case featureSteamSpace:
		limit := "the node's free space"
		if st.Disk > 0 {
			limit = "its disk limit of " + web.FormatBytes(st.Disk<<20)
		}
		return featureNotice{Feature: f, Match: "not enough disk space",
			Text: "SteamCMD has no room left to download the game: this instance may use " + limit +
				". Delete files it no longer needs, or ask an admin for a larger disk."}, true
	case featureJava:
		text := "The server needs another version of Java than its image holds, and this template offers no other image: " +
			"an admin can deploy it with an image of a newer Java."
		if len(t.AltImages) > 0 {
			text = "The server needs another version of Java than its image holds. An admin can deploy it with one of " +
				"the template's other images: " + strings.Join(t.AltImages, ", ") + "."
		}
		return featureNotice{Feature: f, Text: text,
			Match: "unsupportedclassversionerror|has been compiled by a more recent version of the java runtime"}, true
	}
	return featureNotice{}, false
}

// eulaPending reports whether the instance's eula.txt, read through its
// node's file API, does not accept the EULA (a missing file does not), and
// whether that is known. An instance that is not installed, or whose node
// cannot say, is not asked: nothing could be written to it now.
func (s *Server) eulaPending(r *http.Request, iv instancePageView) (pending, known bool) {
	if iv.in.InternalState != store.StateReady || iv.State.Node.Status == store.NodeOffline {
		return false, false
	}
	c, err := s.nodeClient(r.Context(), iv.in)
	if err != nil {
		return false, false
	}
	stream, err := c.FileContent(r.Context(), iv.in.ID, eulaFile)
	if err != nil {
		missing := fault.Is(fileFault(iv.in, err), fault.NotExist)
		return missing, missing
	}
	defer stream.Close()
	return !acceptsEULA(io.LimitReader(stream.Body, maxEULABytes)), true
}

// acceptsEULA reports whether a properties file sets eula to true, as the
// Minecraft server reads it: comments skipped, the key and value trimmed,
// the value's case ignored.
func acceptsEULA(rd io.Reader) bool {
	accepted := false
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(key) == "eula" {
			accepted = strings.EqualFold(strings.TrimSpace(value), "true")
		}
	}
	return accepted
}
