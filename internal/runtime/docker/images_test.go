package docker

import (
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
)

func TestPullLine(t *testing.T) {
	tests := []struct {
		msg  jsonstream.Message
		want string
	}{
		{jsonstream.Message{Status: "Pulling from library/alpine", ID: "3"}, "Pulling from library/alpine 3"},
		{jsonstream.Message{Status: "Downloading", ID: "a1b2", Progress: &jsonstream.Progress{Current: 1_500_000, Total: 3_000_000}},
			"Downloading a1b2 1.5MB/3.0MB"},
		{jsonstream.Message{Status: "Extracting", ID: "a1b2", Progress: &jsonstream.Progress{Current: 10, Total: 0}}, "Extracting a1b2"},
		{jsonstream.Message{}, ""},
	}
	for _, tt := range tests {
		if got := pullLine(tt.msg); got != tt.want {
			t.Errorf("pullLine(%+v) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[int64]string{0: "0B", 999: "999B", 1000: "1.0kB", 1_234_567: "1.2MB", 5_000_000_000: "5.0GB"}
	for n, want := range tests {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
