package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/config"
)

func TestParseRefusesAnEnvironmentValueThatDoesNotParse(t *testing.T) {
	t.Setenv("BERTH_INSTALL_TIMEOUT", "notaduration")
	fs := newFlags("panel")
	fs.SetOutput(io.Discard)
	var cfg config.Panel
	config.BindPanel(fs, &cfg)
	if err := parse(fs, nil); err == nil || !strings.Contains(err.Error(), "BERTH_INSTALL_TIMEOUT") {
		t.Errorf("parse: err %v, want BERTH_INSTALL_TIMEOUT refused", err)
	}
}
