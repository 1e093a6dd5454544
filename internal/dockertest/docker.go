// Package dockertest gives tests in other packages a real Docker engine to
// work against: a client (or a skip when there is none), images built from
// project code, since nodes under test have no registry to pull from, and
// cleanup of the containers a test creates.
package dockertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// RequireEnv names the variable that turns a missing Docker engine from a
// skip into a failure; CI sets it to 1.
const RequireEnv = "BERTH_REQUIRE_DOCKER"

// callTimeout bounds each engine call made by the helpers here.
const callTimeout = 30 * time.Second

// unavailable skips the test, or fails it when RequireEnv is 1, because
// something it needs from the host is missing.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, RequireEnv)
	}
	t.Skipf("%s (set %s=1 to fail instead)", msg, RequireEnv)
}

// RequireDocker returns a client for the engine named by the environment,
// after checking it answers; without one, the test is skipped (or fails
// when BERTH_REQUIRE_DOCKER=1). The client is closed when the test ends.
func RequireDocker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		unavailable(t, "docker: open client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		unavailable(t, "docker: engine at %s does not answer: %v", cli.DaemonHost(), err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// InstanceID returns a fresh instance ID, unique across test runs sharing
// one engine.
func InstanceID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b)
}

// Cleanup removes, when the test ends, every container labelled as
// belonging to instanceID, running or not.
func Cleanup(t testing.TB, cli *client.Client, instanceID string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if err := RemoveContainers(ctx, cli, instanceID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// RemoveContainers force-removes every container labelled as belonging to
// instanceID, running or not.
func RemoveContainers(ctx context.Context, cli *client.Client, instanceID string) error {
	list, err := listContainers(ctx, cli, instanceID)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range list {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s of %s: %w", c.ID, instanceID, err))
		}
	}
	return errors.Join(errs...)
}

// Containers lists every container labelled as belonging to instanceID,
// running or not.
func Containers(t testing.TB, cli *client.Client, instanceID string) []container.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	list, err := listContainers(ctx, cli, instanceID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func listContainers(ctx context.Context, cli *client.Client, instanceID string) ([]container.Summary, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", runtime.LabelInstance+"="+instanceID),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", instanceID, err)
	}
	return res.Items, nil
}

// ReadBanner connects to the game server published on 127.0.0.1:port over
// network ("tcp" or "udp") and returns the first line it sends, which
// starts with "berth-gameserver ".
func ReadBanner(network string, port int) (string, error) {
	conn, err := net.DialTimeout(network, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if network == "udp" {
		// UDP has no connection to greet: the server answers a datagram.
		if _, err := conn.Write([]byte("ping")); err != nil {
			return "", err
		}
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// FreePort returns a port that is free for both TCP and UDP on every host
// address at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatalf("find free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("find free port: no port free for both TCP and UDP after 20 tries")
	return 0
}
