package ports

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

func TestParseReadsContainerHostPairs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Binding
	}{
		{"25565", []Binding{{25565, 25565}}},
		{"25565:25565", []Binding{{25565, 25565}}},
		{"80:8080", []Binding{{80, 8080}}},
		{"25565:25565,25575:25576", []Binding{{25565, 25565}, {25575, 25576}}},
		{" 80:8080 , 443 ", []Binding{{80, 8080}, {443, 443}}},
		{"1:65535", []Binding{{1, 65535}}},
		{"80:9000,80:9001", []Binding{{80, 9000}, {80, 9001}}}, // one container port, two host ports
		{"00080", []Binding{{80, 80}}},
	} {
		got, err := Parse(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseRejectsMalformedMappingsNamingPorts(t *testing.T) {
	tooMany := strings.Repeat("1,", MaxBindings) + "1"
	for _, in := range []string{
		"", "  ", ",", "80,", ",80", "80,,81", "a", "80:a", ":80", "80:", "80::80", "80:80:80", "0", "0:80", "80:0",
		"65536", "1:65536", "-1", "+80", "80 :80", "8 0", "1e3", "0x50", "100000", "８０", "80;81", "80,80", "1:80,2:80",
		tooMany,
	} {
		got, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
			continue
		}
		var fe *fault.Error
		if fault.KindOf(err) != fault.Invalid || !errors.As(err, &fe) || fe.Field != "ports" || !strings.HasPrefix(err.Error(), "ports: ") {
			t.Errorf("Parse(%q) error = %v, want an Invalid fault on ports", in, err)
		}
	}
}

func TestParseAcceptsUpToMaxBindings(t *testing.T) {
	items := make([]string, MaxBindings)
	for i := range items {
		items[i] = strconv.Itoa(1000 + i)
	}
	got, err := Parse(strings.Join(items, ","))
	if err != nil || len(got) != MaxBindings {
		t.Errorf("Parse of %d mappings = %d, %v", MaxBindings, len(got), err)
	}
}

func TestFormatWritesPairs(t *testing.T) {
	if got := Format([]Binding{{25565, 25565}, {80, 8080}}); got != "25565:25565,80:8080" {
		t.Errorf("Format = %q", got)
	}
	if got := Format(nil); got != "" {
		t.Errorf("Format(nil) = %q, want empty", got)
	}
}

func TestPrimaryPicksAmongTheBindings(t *testing.T) {
	bs := []Binding{{25565, 25565}, {80, 8080}, {8080, 9000}}
	for _, c := range []struct {
		raw  string
		want Binding
	}{
		{"25565", Binding{25565, 25565}},
		{" 25565 ", Binding{25565, 25565}},
		{"25565:25565", Binding{25565, 25565}},
		{"80:8080", Binding{80, 8080}},
		{"8080", Binding{80, 8080}},   // a bare port is a host port first ...
		{"80", Binding{80, 8080}},     // ... then a container port
		{"9000", Binding{8080, 9000}}, // host
	} {
		got, err := Primary(c.raw, bs)
		if err != nil || got != c.want {
			t.Errorf("Primary(%q) = %v, %v; want %v", c.raw, got, err, c.want)
		}
	}
	for _, raw := range []string{"", " ", "1234", "8080:8080", "8080:80", "25565:", "x", "0", "65536", "80:8080:1"} {
		got, err := Primary(raw, bs)
		if err == nil {
			t.Errorf("Primary(%q) = %v, want an error", raw, got)
			continue
		}
		if fault.KindOf(err) != fault.Invalid || !strings.HasPrefix(err.Error(), "primary: ") {
			t.Errorf("Primary(%q) error = %v, want an Invalid fault on primary", raw, err)
		}
	}
	if _, err := Primary("80", nil); err == nil {
		t.Errorf("Primary among no bindings succeeded")
	}
}

// FuzzParsePorts checks that Parse never panics, that what it accepts keeps
// its rules and survives Format and Parse unchanged, and that Primary picks
// only among the bindings.
func FuzzParsePorts(f *testing.F) {
	f.Fuzz(func(t *testing.T, s, primary string) {
		bs, err := Parse(s)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("Parse(%q) error %v is not Invalid", s, err)
			}
			return
		}
		if len(bs) == 0 || len(bs) > MaxBindings {
			t.Fatalf("Parse(%q) accepted %d bindings", s, len(bs))
		}
		hosts := map[int]bool{}
		for _, b := range bs {
			if b.Container < 1 || b.Container > 65535 || b.Host < 1 || b.Host > 65535 || hosts[b.Host] {
				t.Fatalf("Parse(%q) accepted %v", s, bs)
			}
			hosts[b.Host] = true
		}
		again, err := Parse(Format(bs))
		if err != nil || !reflect.DeepEqual(again, bs) {
			t.Fatalf("Parse(Format(Parse(%q))) = %v, %v; want %v", s, again, err, bs)
		}
		p, err := Primary(primary, bs)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("Primary(%q) error %v is not Invalid", primary, err)
			}
			return
		}
		found := false
		for _, b := range bs {
			found = found || b == p
		}
		if !found {
			t.Fatalf("Primary(%q, %v) = %v, not one of the bindings", primary, bs, p)
		}
		if q, err := Primary(strconv.Itoa(p.Container)+":"+strconv.Itoa(p.Host), bs); err != nil || q != p {
			t.Fatalf("Primary of the chosen pair %v = %v, %v", p, q, err)
		}
	})
}
