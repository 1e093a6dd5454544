package install

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestInstallLogIsCappedAndTailKeepsWhatATerminalShows(t *testing.T) {
	var sb strings.Builder
	w := &cappedWriter{w: &sb, left: 10}
	for _, s := range []string{"12345", "67890", "abc"} {
		if n, err := io.WriteString(w, s); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := sb.String(); !strings.HasPrefix(got, "1234567890\n[berth] install log is full") || strings.Contains(got, "abc") {
		t.Errorf("capped log = %q", got)
	}
	got := lastLines([]byte("a\nb\r\nc 1%\rc 100%\n\n"), 2)
	if !slices.Equal(got, []string{"b", "c 100%"}) {
		t.Errorf("lastLines = %q", got)
	}
}
