package docker_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// loopbackRegistry is a listener of the test's own on 127.0.0.1 that
// counts connections and hangs up on each.
type loopbackRegistry struct {
	ln   net.Listener
	addr string

	mu    sync.Mutex
	count int
}

func listenLoopback(t *testing.T) *loopbackRegistry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := &loopbackRegistry{ln: ln, addr: ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			reg.mu.Lock()
			reg.count++
			reg.mu.Unlock()
			conn.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return reg
}

// connections reports how many connections the registry has taken. Each
// is counted before it is hung up on, and the engine answers only once it
// has seen the hang-up, so after the engine's answer the count is final.
func (reg *loopbackRegistry) connections() int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.count
}

// refusingResolver fails the test if asked anything: the cases using it
// need no lookup, and nothing may leave the machine.
type refusingResolver struct{ t *testing.T }

func (r refusingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.t.Errorf("looked up %q", host)
	return nil, errors.New("no lookups in this test")
}

func TestEnsureRefusesAnImageFromALoopbackRegistryBeforeAnyPull(t *testing.T) {
	t.Parallel()
	reg := listenLoopback(t)
	f := newFixture(t, docker.WithResolver(refusingResolver{t}))
	spec := f.spec(t)
	spec.Image = reg.addr + "/berth-test/game:1"
	_, err := f.rt.Ensure(t.Context(), spec, nil)
	var ie *runtime.ImageError
	if !errors.As(err, &ie) || !errors.Is(err, runtime.ErrImage) {
		t.Fatalf("Ensure = %v, want an ImageError", err)
	}
	for _, want := range []string{spec.Image, "127.0.0.1 is not a public address", "BERTH_ALLOW_PRIVATE_REGISTRIES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := reg.connections(); n != 0 {
		t.Errorf("the engine made %d connections to the refused registry", n)
	}

	// The same for an install, with a name that resolves to loopback.
	job := runtime.InstallJob{InstanceID: spec.InstanceID, Image: "localhost:" + strings.Split(reg.addr, ":")[1] + "/berth-test/installer:1",
		Script: "true", DataDir: t.TempDir()}
	rt, err := docker.New(t.Context(), docker.WithResolver(staticResolver{"localhost": netip.MustParseAddr("127.0.0.1")}))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.RunInstall(t.Context(), job, nil); !errors.As(err, &ie) ||
		!strings.Contains(err.Error(), "localhost resolves to 127.0.0.1, which is not a public address") {
		t.Errorf("RunInstall = %v, want a refusal naming the registry's address", err)
	}
	if n := reg.connections(); n != 0 {
		t.Errorf("the engine made %d connections to the refused registry", n)
	}
}

// staticResolver answers from a table.
type staticResolver map[string]netip.Addr

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := r[host]; ok {
		return []netip.Addr{ip}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestEnsureUsesALocalImageOfAPrivateRegistryWithoutACheck(t *testing.T) {
	t.Parallel()
	reg := listenLoopback(t)
	f := newFixture(t, docker.WithResolver(refusingResolver{t}))
	spec := f.spec(t)
	spec.Image = reg.addr + "/berth-test/present:" + spec.InstanceID
	if _, err := f.cli.ImageTag(t.Context(), client.ImageTagOptions{Source: f.image, Target: spec.Image}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = f.cli.ImageRemove(ctx, spec.Image, client.ImageRemoveOptions{})
	})
	if st, err := f.rt.Ensure(t.Context(), spec, nil); err != nil || st.Image != spec.Image {
		t.Fatalf("Ensure of a local image = %+v, %v; want its container", st, err)
	}
	if n := reg.connections(); n != 0 {
		t.Errorf("the engine made %d connections for an image it had", n)
	}
}
