package web

import (
	"strings"
	"testing"
)

// maxAssetBytes is the budget of all the UI's JavaScript and CSS,
// uncompressed (issue 9).
const maxAssetBytes = 100 << 10

// TestAssetsWeighUnderBudget keeps the scripts and the stylesheet, all of
// them together, under 100 KiB before compression.
func TestAssetsWeighUnderBudget(t *testing.T) {
	s := MustNew()
	total := s.AssetBytes(".js", ".css")
	gzipped := 0
	for name, a := range s.assets {
		if strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".css") {
			gzipped += len(a.gzipped)
		}
	}
	t.Logf("JS + CSS: %d bytes, %d gzipped", total, gzipped)
	if total == 0 || total > maxAssetBytes {
		t.Errorf("JS + CSS weigh %d bytes uncompressed, want at most %d", total, maxAssetBytes)
	}
}
