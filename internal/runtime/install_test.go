package runtime

import (
	"slices"
	"testing"
)

func TestInstallCommandPutsTheScriptAfterTheEntrypointsWords(t *testing.T) {
	for _, tt := range []struct {
		entrypoint string
		want       []string
	}{
		{"", []string{"sh", "/mnt/install/install.sh"}},
		{"  ", []string{"sh", "/mnt/install/install.sh"}},
		{"bash", []string{"bash", "/mnt/install/install.sh"}},
		{"bash -e  -x", []string{"bash", "-e", "-x", "/mnt/install/install.sh"}},
	} {
		if got := InstallCommand(tt.entrypoint); !slices.Equal(got, tt.want) {
			t.Errorf("InstallCommand(%q) = %q, want %q", tt.entrypoint, got, tt.want)
		}
	}
}
