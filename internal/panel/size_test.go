package panel_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/panel"
)

func TestParseSizeReadsMiBOrAUnit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"8192", 8192}, {"8192M", 8192}, {"8192MB", 8192}, {"8192MiB", 8192}, {"8192 mib", 8192},
		{"8G", 8192}, {"8g", 8192}, {"8GB", 8192}, {"8GiB", 8192}, {" 8 G ", 8192}, {"0.5G", 512}, {"1.5g", 1536},
		{"1T", 1 << 20}, {"2TB", 2 << 20}, {"1TiB", 1 << 20}, {"1", 1}, {"1e3", 1000}, {"1024.9", 1024},
		{"1048576T", 1 << 40},
	} {
		got, err := panel.ParseSize("ram", c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestParseSizeRejectsNonSizesNamingTheField(t *testing.T) {
	for _, in := range []string{"", " ", "G", "lots", "8X", "8K", "8KB", "8 P", "0", "0.5", "-1", "-8G", "NaN", "Inf",
		"+Inf", "1e400", "1048577T", "8G8", "8GG", "0x10", "8,5G"} {
		got, err := panel.ParseSize("disk", in)
		if err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
			continue
		}
		if fault.KindOf(err) != fault.Invalid || !strings.HasPrefix(err.Error(), "disk: ") {
			t.Errorf("ParseSize(%q) error = %v, want an Invalid fault naming disk", in, err)
		}
	}
}
