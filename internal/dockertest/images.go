package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// buildTimeout bounds compiling and importing one test image.
const buildTimeout = 5 * time.Minute

// busyboxPath is where Debian's busybox-static package puts its binary.
const busyboxPath = "/bin/busybox"

// busyboxApplets get a symlink to busybox in the test image's /bin.
var busyboxApplets = []string{
	"sh", "ls", "cat", "echo", "mkdir", "rm", "wget", "sleep", "cp", "mv",
	"test", "[", "env", "true", "false", "printf", "grep", "sed", "head",
	"tail", "chmod", "touch", "nc",
}

// baseDirs are created in every test image: mount points the engine needs
// on a read-only root, and the default data path.
var baseDirs = []string{"dev", "proc", "sys", "etc", "tmp", "home", "home/container"}

// errUnavailable marks a host prerequisite that is missing, as opposed to a
// broken build: the test is skipped rather than failed.
var errUnavailable = errors.New("unavailable")

// image is one test image, built at most once per test process.
type image struct {
	once sync.Once
	ref  string
	err  error
}

var (
	gameServerImage      image
	busyboxImage         image
	shellGameServerImage image
)

// get builds the image on first use with build, and reports the reference
// or the reason the test cannot go on.
func (img *image) get(t testing.TB, build func(context.Context, *client.Client) (string, error)) string {
	t.Helper()
	cli := RequireDocker(t)
	img.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		img.ref, img.err = build(ctx, cli)
	})
	if errors.Is(img.err, errUnavailable) {
		unavailable(t, "%v", img.err)
	}
	if img.err != nil {
		t.Fatal(img.err)
	}
	return img.ref
}

// GameServerImage returns a local image running internal/gameserver,
// compiled from this checkout and tagged berth-test/gameserver:<hash>.
func GameServerImage(t testing.TB) string {
	t.Helper()
	return gameServerImage.get(t, buildGameServer)
}

// BusyboxImage returns a local image holding the host's static busybox with
// a shell and common applets, tagged berth-test/busybox:<hash>. It needs
// Debian's busybox-static package.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	return busyboxImage.get(t, buildBusybox)
}

// ShellGameServerImage returns a local image holding both the game server
// (as /gameserver, its command) and the busybox shell, tagged
// berth-test/gameserver-sh:<hash>: the shape of a real game image, whose
// templates' startup commands run through /bin/sh. It needs Debian's
// busybox-static package.
func ShellGameServerImage(t testing.TB) string {
	t.Helper()
	return shellGameServerImage.get(t, buildShellGameServer)
}

// buildGameServer compiles the fake game server statically and imports it
// as an image whose command is /gameserver.
func buildGameServer(ctx context.Context, cli *client.Client) (string, error) {
	data, err := compileGameServer(ctx)
	if err != nil {
		return "", fmt.Errorf("gameserver image: %w", err)
	}
	files := []tarFile{{name: "gameserver", mode: 0o755, data: data}}
	changes := []string{`CMD ["/gameserver"]`, "WORKDIR /home/container"}
	return importImage(ctx, cli, "berth-test/gameserver", files, changes)
}

// buildBusybox imports the host's static busybox as a small shell image.
func buildBusybox(ctx context.Context, cli *client.Client) (string, error) {
	files, err := busyboxFiles()
	if err != nil {
		return "", fmt.Errorf("busybox image: %w", err)
	}
	changes := []string{
		`CMD ["/bin/sh"]`,
		"ENV PATH=/bin",
		"WORKDIR /home/container",
	}
	return importImage(ctx, cli, "berth-test/busybox", files, changes)
}

// buildShellGameServer imports the game server beside busybox's shell.
func buildShellGameServer(ctx context.Context, cli *client.Client) (string, error) {
	files, err := busyboxFiles()
	if err != nil {
		return "", fmt.Errorf("gameserver-sh image: %w", err)
	}
	data, err := compileGameServer(ctx)
	if err != nil {
		return "", fmt.Errorf("gameserver-sh image: %w", err)
	}
	files = append(files, tarFile{name: "gameserver", mode: 0o755, data: data})
	changes := []string{`CMD ["/gameserver"]`, "ENV PATH=/bin", "WORKDIR /home/container"}
	return importImage(ctx, cli, "berth-test/gameserver-sh", files, changes)
}

// compileGameServer builds internal/gameserver as a static Linux binary
// and returns it.
func compileGameServer(ctx context.Context) ([]byte, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "berth-gameserver-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gameserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./internal/gameserver")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return os.ReadFile(bin)
}

// busyboxFiles are the host's static busybox as /bin/busybox and a
// symlink to it for each applet. A missing or dynamic busybox is
// errUnavailable.
func busyboxFiles() ([]tarFile, error) {
	f, err := elf.Open(busyboxPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing; apt-get install busybox-static", errUnavailable, busyboxPath)
	}
	if err != nil {
		return nil, err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return nil, fmt.Errorf("%w: %s is dynamically linked and cannot run alone in an image; apt-get install busybox-static",
				errUnavailable, busyboxPath)
		}
	}
	f.Close()
	data, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, err
	}
	files := []tarFile{{name: "bin/busybox", mode: 0o755, data: data}}
	for _, applet := range busyboxApplets {
		files = append(files, tarFile{name: "bin/" + applet, link: "busybox"})
	}
	return files, nil
}

// moduleRoot finds the root of this Go module, where go build runs.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	// Outside the module (a test binary run from elsewhere), fall back to
	// where this file was compiled from: internal/dockertest.
	_, file, _, ok := goruntime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errors.New("cannot find the module root: go env GOMOD names none and sources are not on disk")
	}
	return filepath.Join(filepath.Dir(file), "..", ".."), nil
}

// tarFile is one entry of an image's only layer: a file, or a symlink
// when link is set.
type tarFile struct {
	name string
	mode int64
	data []byte
	link string
}

// importImage tags the layer made of files as repo:<hash of its content>,
// importing it only when no image has that tag yet.
func importImage(ctx context.Context, cli *client.Client, repo string, files []tarFile, changes []string) (string, error) {
	layer, err := layerTar(files)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	sum := sha256.New()
	sum.Write(layer)
	for _, c := range changes {
		sum.Write([]byte(c))
	}
	ref := repo + ":" + hex.EncodeToString(sum.Sum(nil))[:12]

	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(layer), SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes})
	if err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	defer res.Close()
	dec := json.NewDecoder(res)
	for {
		var msg jsonstream.Message
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("import %s: read response: %w", ref, err)
		}
		if msg.Error != nil {
			return "", fmt.Errorf("import %s: %s", ref, msg.Error.Message)
		}
	}
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		return "", fmt.Errorf("import %s: image absent afterwards: %w", ref, err)
	}
	return ref, nil
}

// layerTar writes baseDirs and files as a tar archive, with fixed times so
// that the same content always hashes the same.
func layerTar(files []tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := append([]string(nil), baseDirs...)
	seen := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f.name); d != "." {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, ModTime: epoch}
		if f.link != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.link, 0o777
		} else {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, f.mode, int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
