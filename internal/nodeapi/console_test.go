package nodeapi

import "testing"

func TestIsStopCommandMatchesTheLineIgnoringCaseAndSpaces(t *testing.T) {
	for _, tc := range []struct {
		line, stop string
		want       bool
	}{
		{"stop", "stop", true},
		{"  STOP\t", "stop ", true},
		{"stop now", "stop", false},
		{"", "", false},
		{"anything", "", false},
		{"^SIGINT", "^SIGINT", false},
	} {
		if got := IsStopCommand(tc.line, tc.stop); got != tc.want {
			t.Errorf("IsStopCommand(%q, %q) = %v, want %v", tc.line, tc.stop, got, tc.want)
		}
	}
}
