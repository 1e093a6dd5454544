package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/images"
)

// importCasesDir holds the documents of the images package's golden tests.
var importCasesDir = filepath.Join("..", "images", "testdata", "import")

// TestImportedDocumentsDeployToReady makes "imports" mean "runs": every
// document of the import golden tests that imports is deployed, one after
// the other on one throwaway panel and node, until its instance is READY,
// with the test game server standing in for the egg's images.
func TestImportedDocumentsDeployToReady(t *testing.T) {
	game, busybox := dockertest.ShellGameServerImage(t), dockertest.BusyboxImage(t)
	cli := dockertest.RequireDocker(t)
	docs := importableDocuments(t)
	if len(docs) < 10 {
		t.Fatalf("found %d importable documents, want the whole golden suite", len(docs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	opts := imageTestOptions{timeout: time.Minute, stopTimeout: 20 * time.Second, memoryMiB: 256, cpu: 1,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	env, err := startTestEnv(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.close(""); err != nil {
			t.Errorf("close the test panel and node: %v", err)
		}
	}()
	for _, doc := range docs {
		r, err := images.ImportDocument(readFile(t, doc))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(doc), err)
			continue
		}
		tmpl, vars := standIn(r.Template, game, busybox)
		var out bytes.Buffer
		run := &testRun{env: env, tmpl: tmpl, opts: opts, out: &out}
		run.opts.vars = vars
		reason := run.deployReady(ctx)
		if run.instanceID != "" {
			if err := env.removeInstance(ctx, run.instanceID); err != nil {
				t.Errorf("%s: remove: %v", filepath.Base(doc), err)
			}
			dockertest.Cleanup(t, cli, run.instanceID)
		}
		if reason != "" {
			t.Errorf("%s: not READY: %s\n%s", filepath.Base(doc), reason, out.String())
		}
	}
}

// importableDocuments lists the golden documents that import: those with
// a .golden.json beside them.
func importableDocuments(t *testing.T) []string {
	t.Helper()
	var docs []string
	for _, ext := range []string{"json", "yaml", "yml"} {
		found, err := filepath.Glob(filepath.Join(importCasesDir, "*."+ext))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			base := strings.TrimSuffix(f, filepath.Ext(f))
			if _, err := os.Stat(base + ".golden.json"); err == nil && !strings.HasSuffix(f, ".golden.json") {
				docs = append(docs, f)
			}
		}
	}
	return docs
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// standIn returns t with the test images in place of its own: the game
// server runs after printing the template's plain ready patterns, so that
// they are what moves the instance to running, and a stand-in install
// script runs in busybox's sh. It also returns a value for each required
// variable without a default, which the deploy must supply.
func standIn(t images.Template, game, busybox string) (images.Template, map[string]string) {
	t.Image, t.AltImages = game, nil
	var startup strings.Builder
	var ready []string
	for _, p := range t.ReadyPatterns {
		if strings.HasPrefix(p, "regex:") {
			continue
		}
		ready = append(ready, p)
		startup.WriteString("echo '" + strings.ReplaceAll(p, "'", `'\''`) + "'; ")
	}
	if len(ready) == 0 {
		ready = []string{"Server ready"}
	}
	t.ReadyPatterns = ready
	t.Startup = startup.String() + "exec /gameserver"
	if t.Scripts.Installer != nil {
		// Eggs' scripts fetch their games with curl, npm and the like,
		// from the Internet; a stand-in runs in their place.
		t.Scripts.Installer = &images.InstallScript{Image: busybox, Entrypoint: "sh",
			Script: "echo installed > /mnt/server/installed.txt\n"}
	}
	// Downloads would reach the Internet; the golden eggs have none.
	t.Scripts.Install = nil
	vars := map[string]string{}
	for name, v := range t.Variables {
		if v.Required && v.Default == "" {
			vars[name] = sampleValue(v)
		}
	}
	return t, vars
}

// sampleValue is a value for a required variable without a default.
func sampleValue(v images.Variable) string {
	switch {
	case len(v.OneOf) > 0:
		return v.OneOf[len(v.OneOf)-1]
	case v.Type == images.TypeInt || v.Type == images.TypeNumber:
		return "1"
	case v.Type == images.TypeBool:
		return "true"
	}
	return "test-value"
}
