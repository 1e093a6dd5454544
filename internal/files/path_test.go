package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanAcceptsPathsInsideTheFolder(t *testing.T) {
	cases := map[string]string{
		"":                                ".",
		".":                               ".",
		"./":                              ".",
		"world":                           "world",
		"world/":                          "world",
		"./world/level.dat":               "world/level.dat",
		"world//region/./r.mca":           "world/region/r.mca",
		"...":                             "...",
		"..hidden":                        "..hidden",
		"a..b":                            "a..b",
		"%2e%2e":                          "%2e%2e", // only HTTP decodes; here it is a name
		`..\..\x`:                         `..\..\x`,
		"spaces in name ":                 "spaces in name ",
		"ünïcødé/日本":                      "ünïcødé/日本",
		strings.Repeat("a", MaxNameBytes): strings.Repeat("a", MaxNameBytes),
	}
	for in, want := range cases {
		got, err := Clean("path", in)
		if err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCleanRefusesEscapesAndMalformedPaths(t *testing.T) {
	cases := []struct {
		in   string
		kind Kind
	}{
		{"..", Escape},
		{"../", Escape},
		{"../../etc/passwd", Escape},
		{"world/../../x", Escape},
		{"world/..", Escape}, // stays inside, refused all the same
		{"/", Escape},
		{"/etc", Escape},
		{"/etc/passwd", Escape},
		{"//etc", Escape},
		{"a\x00b", Invalid},
		{"\x00", Invalid},
		{"../\x00", Invalid},
		{"\xff\xfe", Invalid},
		{strings.Repeat("a", MaxNameBytes+1), Invalid},
		{strings.Repeat("a/", MaxPathBytes/2+1), Invalid},
	}
	for _, c := range cases {
		_, err := Clean("path", c.in)
		var fe *Error
		if !errors.As(err, &fe) || fe.Kind != c.kind {
			t.Errorf("Clean(%q) = %v; want kind %d", c.in, err, c.kind)
			continue
		}
		if !strings.HasPrefix(fe.Error(), "path: ") {
			t.Errorf("Clean(%q) error %q does not name the field", c.in, fe.Error())
		}
	}
}

// TestRootEscapeErrorIsRecognised pins the os package's message for a
// path that leads out of a Root, which fsError matches since the os
// package does not export the error.
func TestRootEscapeErrorIsRecognised(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(dir, "root", "up")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = root.Open("up/x")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Err.Error() != errPathEscapes {
		t.Fatalf("escape through a link gave %v; fsError expects %q", err, errPathEscapes)
	}
	if KindOf(fsError("path", "up/x", err)) != Escape {
		t.Fatalf("fsError does not classify %v as an escape", err)
	}
	// A rename reports it in an *os.LinkError instead.
	if err := os.WriteFile(filepath.Join(dir, "root", "a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = root.Rename("a", "up/a")
	var le *os.LinkError
	if !errors.As(err, &le) || le.Err.Error() != errPathEscapes {
		t.Fatalf("a rename out through a link gave %v; fsError expects %q", err, errPathEscapes)
	}
	if KindOf(fsError("to", "up/a", err)) != Escape {
		t.Fatalf("fsError does not classify %v as an escape", err)
	}
}
