package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/store"
)

const imageUsage = "usage: berth image import FILE|DIR... [-replace] [-data DIR | -database URL], or berth image test TEMPLATE [flags]"

// runImage is `berth image import FILE|DIR...`: it imports each template
// file (each .json, .yaml or .yml file of a folder), reporting one line
// per file and one per warning, and fails when any file did. Each file is
// stored whole or not at all. With -replace, a template of the same uuid
// or name is updated rather than refused.
func runImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return errors.New(imageUsage)
	}
	fs := newFlags("image import")
	fs.SetOutput(stderr)
	var data, dbURL string
	config.BindData(fs, &data)
	config.BindDatabase(fs, &dbURL)
	replace := fs.Bool("replace", false, "update the stored template of the same uuid or name instead of failing")
	targets, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		fmt.Fprintln(stderr, imageUsage)
		return errUsage
	}
	files, err := templateFiles(targets)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, data, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	failed := 0
	for _, file := range files {
		r, created, err := importFile(ctx, st, file, *replace)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%s: %v\n", file, err)
			continue
		}
		verb, syntax := "imported", ""
		if !created {
			verb = "replaced"
		}
		if r.YAML {
			syntax = ", YAML"
		}
		fmt.Fprintf(stdout, "%s: %s %s (%s%s) as %s\n", file, verb, r.Template.Name, r.Format, syntax, r.Template.ID)
		for _, w := range r.Warnings {
			fmt.Fprintf(stdout, "%s: warning: %s\n", file, w)
		}
	}
	if failed > 0 {
		return fmt.Errorf("image import: %d of %d file(s) failed", failed, len(files))
	}
	return nil
}

// importFile imports and stores one template file, replacing the stored
// template of its uuid or name when replace is set; created says whether
// the template is new.
func importFile(ctx context.Context, st *store.Store, file string, replace bool) (r images.Result, created bool, err error) {
	f, err := os.Open(file)
	if err != nil {
		return r, false, err
	}
	defer f.Close()
	// One byte past the limit, so that Import can say the file is too big.
	raw, err := io.ReadAll(io.LimitReader(f, images.MaxDocument+1))
	if err != nil {
		return r, false, err
	}
	if r, err = images.ImportDocument(raw); err != nil {
		return r, false, err
	}
	if replace {
		r.Template, created, err = st.ReplaceTemplate(ctx, r.Template)
	} else {
		r.Template, err = st.SaveTemplate(ctx, r.Template)
		created = err == nil
	}
	return r, created, err
}

// templateExtensions are the file names a folder's templates end in.
var templateExtensions = []string{".json", ".yaml", ".yml"}

// templateFiles expands the arguments: a file as it is, a folder into its
// .json, .yaml and .yml files in name order (not recursively).
func templateFiles(targets []string) ([]string, error) {
	var files []string
	for _, target := range targets {
		info, err := os.Stat(target)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, target)
			continue
		}
		entries, err := os.ReadDir(target)
		if err != nil {
			return nil, err
		}
		var found []string
		for _, e := range entries {
			if !e.IsDir() && slices.Contains(templateExtensions, strings.ToLower(filepath.Ext(e.Name()))) {
				found = append(found, filepath.Join(target, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .json, .yaml or .yml files", target)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns, then applies the environment
// variables of the flags left unset.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return positional, config.ApplyEnv(fs)
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
