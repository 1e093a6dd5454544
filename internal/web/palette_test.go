package web

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// minContrast is WCAG 2's AA ratio for normal text.
const minContrast = 4.5

// palettePairs are the text colours of app.css and the backgrounds each
// one is drawn on, by CSS variable name.
var palettePairs = func() [][2]string {
	var pairs [][2]string
	for _, fg := range []string{"text", "muted", "accent", "danger", "ok", "warn"} {
		for _, bg := range []string{"bg", "surface", "raised"} {
			pairs = append(pairs, [2]string{fg, bg})
		}
	}
	return append(pairs, [2]string{"on-accent", "accent"}, [2]string{"console-text", "console-bg"})
}()

// TestPaletteContrast computes, from the variables app.css declares, the
// contrast of every text colour on every background it is used on, in the
// light and the dark palette.
func TestPaletteContrast(t *testing.T) {
	css, err := files.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	light, dark, err := palettes(string(css))
	if err != nil {
		t.Fatal(err)
	}
	for name, vars := range map[string]map[string]string{"light": light, "dark": dark} {
		for _, p := range palettePairs {
			ratio, err := contrast(vars[p[0]], vars[p[1]])
			if err != nil {
				t.Errorf("%s --%s on --%s: %v", name, p[0], p[1], err)
				continue
			}
			if ratio < minContrast {
				t.Errorf("%s: --%s %s on --%s %s has contrast %.2f:1, want at least %.1f:1",
					name, p[0], vars[p[0]], p[1], vars[p[1]], ratio, minContrast)
			}
		}
	}
}

var (
	rootBlock = regexp.MustCompile(`(?s):root\s*\{([^}]*)\}`)
	darkBlock = regexp.MustCompile(`(?s)@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}`)
	variable  = regexp.MustCompile(`--([a-z-]+)\s*:\s*([^;]+);`)
)

// palettes reads the custom properties of the stylesheet's first :root
// rule (light), and of the :root rule in its dark colour-scheme query laid
// over them (dark).
func palettes(css string) (light, dark map[string]string, err error) {
	l := rootBlock.FindStringSubmatch(css)
	d := darkBlock.FindStringSubmatch(css)
	if l == nil || d == nil {
		return nil, nil, fmt.Errorf("app.css: no :root rule, or none in @media (prefers-color-scheme: dark)")
	}
	light, dark = map[string]string{}, map[string]string{}
	for _, m := range variable.FindAllStringSubmatch(l[1], -1) {
		light[m[1]] = strings.TrimSpace(m[2])
		dark[m[1]] = strings.TrimSpace(m[2])
	}
	for _, m := range variable.FindAllStringSubmatch(d[1], -1) {
		dark[m[1]] = strings.TrimSpace(m[2])
	}
	return light, dark, nil
}

// contrast is the WCAG 2 contrast ratio of two "#rgb" or "#rrggbb" colours.
func contrast(fg, bg string) (float64, error) {
	a, err := luminance(fg)
	if err != nil {
		return 0, err
	}
	b, err := luminance(bg)
	if err != nil {
		return 0, err
	}
	return (max(a, b) + 0.05) / (min(a, b) + 0.05), nil
}

// luminance is the WCAG 2 relative luminance of a hex colour.
func luminance(hex string) (float64, error) {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 || !strings.HasPrefix(hex, "#") {
		return 0, fmt.Errorf("colour %q is not #rgb or #rrggbb", hex)
	}
	var rgb [3]float64
	for i := range rgb {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("colour %q: %w", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			rgb[i] = c / 12.92
		} else {
			rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2], nil
}

// TestContrastOfKnownPairs pins the formula to WCAG's own figures.
func TestContrastOfKnownPairs(t *testing.T) {
	for _, tc := range []struct {
		fg, bg string
		want   float64
	}{
		{"#000000", "#ffffff", 21},
		{"#fff", "#fff", 1},
		{"#777777", "#ffffff", 4.48},
		{"#767676", "#ffffff", 4.54},
	} {
		got, err := contrast(tc.fg, tc.bg)
		if err != nil || math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, %v; want %.2f", tc.fg, tc.bg, got, err, tc.want)
		}
	}
	if _, err := contrast("rgb(0 0 0)", "#fff"); err == nil {
		t.Error("contrast of a colour that is not hex: no error")
	}
}
