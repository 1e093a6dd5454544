// Package cli implements berth's commands: it parses flags, wires the
// packages together, and owns the process's lifetime (signals, graceful
// shutdown).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/berth-dev/berth/internal/config"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

const usage = `berth: a control panel for game servers and small applications

Usage:
  berth up [-data DIR] [-listen ADDR]        panel and a local node in one process
  berth panel [-listen ADDR] [-data DIR] [-database URL] [-api-compat MODE]
  berth node configure -panel URL -key KEY [-data DIR]
  berth node [-data DIR]                     the node daemon
  berth apikey create [-name NAME] [-data DIR | -database URL]
  berth image import FILE|DIR... [-data DIR | -database URL]
                                             import templates: Berth, Skyport, eggs
  berth image test TEMPLATE [-timeout D] [-var NAME=VALUE]...
                                             deploy a template on a throwaway local node,
                                             wait for ready, stop it: PASS or FAIL
  berth version

Run "berth COMMAND -h" for a command's flags.
`

// errUsage marks an error already explained by the flag package.
var errUsage = errors.New("usage")

// Main runs the command in args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var err error
	switch args[0] {
	case "up":
		err = runUp(ctx, args[1:], stdout, log)
	case "panel":
		err = runPanel(ctx, args[1:], stdout, log)
	case "node":
		err = runNode(ctx, args[1:], stdout, log)
	case "apikey":
		err = runAPIKey(ctx, args[1:], stdout)
	case "image":
		if len(args) > 1 && args[1] == "test" {
			err = runImageTest(ctx, args[2:], stdout, stderr)
		} else {
			err = runImage(ctx, args[1:], stdout, stderr)
		}
	case "version":
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "berth: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	}
	fmt.Fprintln(stderr, "berth:", err)
	return 1
}

// newFlags returns a flag set whose errors go to stderr and are reported by
// Main as a usage error.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("berth "+name, flag.ContinueOnError)
	return fs
}

// parse parses args, turning flag errors into errUsage, then applies the
// environment variables of the flags args left unset.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return config.ApplyEnv(fs)
}

// versionString is the version plus what the Go toolchain recorded.
func versionString() string {
	s := "berth " + Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		s += " (" + bi.GoVersion
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += ", " + kv.Value[:12]
			}
		}
		s += ")"
	}
	return s
}
