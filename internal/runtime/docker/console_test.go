package docker

import (
	"slices"
	"testing"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one\r\ntwo\r\n", []string{"one", "two"}},
		{"one\ntwo", []string{"one", "two"}},
		{"\r\n", []string{""}},
		{"a\r\n\r\nb\r\n", []string{"a", "", "b"}},
	}
	for _, tt := range tests {
		if got := splitLines([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
