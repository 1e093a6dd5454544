package docker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/berth-dev/berth/internal/runtime"
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

func TestRegistryHostReadsReferencesAsDockerDoes(t *testing.T) {
	tests := []struct {
		ref, host string
		ok        bool
	}{
		{"alpine", "", false},
		{"alpine:3.20", "", false},
		{"library/alpine", "", false},
		{"itzg/minecraft-server:java21", "", false},
		{"ghcr.io/pterodactyl/yolks:java_21", "ghcr.io", true},
		{"registry.example.com:5000/game@sha256:abc", "registry.example.com", true},
		{"localhost/game", "localhost", true},
		{"localhost:5000/game:1", "localhost", true},
		{"10.0.0.5:5000/game", "10.0.0.5", true},
		{"[::1]:5000/game", "::1", true},
		{"[::127.0.0.1]/game", "::127.0.0.1", true},
		{"Registry/game", "Registry", true},
	}
	for _, tt := range tests {
		host, ok := registryHost(tt.ref)
		if host != tt.host || ok != tt.ok {
			t.Errorf("registryHost(%q) = %q, %v; want %q, %v", tt.ref, host, ok, tt.host, tt.ok)
		}
	}
}

// fakeResolver answers from a table, and records every name asked.
type fakeResolver struct {
	addrs map[string][]netip.Addr
	asked []string
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.asked = append(f.asked, host)
	if addrs, ok := f.addrs[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "192.0.2.53:53", IsNotFound: true}
}

func TestCheckRegistryRefusesRegistriesAtNonPublicAddresses(t *testing.T) {
	res := &fakeResolver{addrs: map[string][]netip.Addr{
		"ghcr.io":           {netip.MustParseAddr("140.82.112.34")},
		"registry.internal": {netip.MustParseAddr("10.0.0.5")},
		"localhost":         {netip.MustParseAddr("127.0.0.1")},
		// One public address does not excuse a private one beside it.
		"split.example":  {netip.MustParseAddr("140.82.112.34"), netip.MustParseAddr("169.254.169.254")},
		"mapped.example": {netip.MustParseAddr("::127.0.0.1")},
	}}
	r := &Runtime{resolver: res, log: slog.New(slog.DiscardHandler)}
	for _, tt := range []struct {
		ref     string
		refused string // a word the refusal must hold; "" when allowed
	}{
		{"alpine:3.20", ""},
		{"ghcr.io/pterodactyl/yolks:java_21", ""},
		{"registry.internal/game:1", "10.0.0.5"},
		{"localhost:5000/game", "127.0.0.1"},
		{"split.example/game", "169.254.169.254"},
		{"mapped.example/game", "::7f00:1"},
		{"127.0.0.1:5000/game", "127.0.0.1"},
		{"[::127.0.0.1]:5000/game", "::127.0.0.1"},
		{"192.168.1.10/game", "192.168.1.10"},
		{"missing.example/game", "not found in any reachable registry"},
	} {
		err := r.checkRegistry(t.Context(), tt.ref)
		if tt.refused == "" {
			if err != nil {
				t.Errorf("checkRegistry(%q) = %v, want allowed", tt.ref, err)
			}
			continue
		}
		var ie *runtime.ImageError
		if !errors.As(err, &ie) || !errors.Is(err, runtime.ErrImage) || ie.Image != tt.ref ||
			!strings.Contains(err.Error(), tt.refused) {
			t.Errorf("checkRegistry(%q) = %v, want an ImageError naming the image and %q", tt.ref, err, tt.refused)
		}
		if strings.Contains(err.Error(), "192.0.2.53") {
			t.Errorf("checkRegistry(%q) = %v: shows the node's DNS server", tt.ref, err)
		}
	}
	if slices.Contains(res.asked, "docker.io") || slices.Contains(res.asked, "127.0.0.1") {
		t.Errorf("looked up %q; Docker Hub and address literals need no lookup", res.asked)
	}

	allowed := &Runtime{resolver: res, log: slog.New(slog.DiscardHandler), allowPrivateRegistries: true}
	if err := allowed.checkRegistry(t.Context(), "registry.internal/game:1"); err != nil {
		t.Errorf("with private registries allowed: %v", err)
	}
}
