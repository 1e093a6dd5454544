package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/configfiles"
	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// Before every start, the node rewrites the game's configuration files
// that the spec names (a template's config files, an egg's config.files),
// as Wings does: the port in server.properties, the bind address in a
// proxy's config.yml. Each file is read and written in the data folder
// through its os.Root, and written atomically (a temporary file renamed
// over it), owned by the instance's user, so that a crash or a refusal
// never leaves half a file. A file that cannot be read or parsed is left
// as it is and reported, on the instance's console and in its status
// error; the start goes on, since the game may well run without the edit.

// maxConfigFileBytes caps a configuration file the node rewrites.
const maxConfigFileBytes = 8 << 20

// bindAddress is {{server.build.default.ip}} and {{config.docker.interface}}:
// the address to listen on inside the container. Instances are kept off
// the host, so there is no host address for a game to reach instead.
const bindAddress = "0.0.0.0"

// applyConfigFiles rewrites spec's config files and returns the problems
// met, one line each, already told on the console and in the log.
func (d *Daemon) applyConfigFiles(ctx context.Context, spec nodeapi.InstanceSpec) []string {
	if len(spec.ConfigFiles) == 0 {
		return nil
	}
	root, err := d.volumes.Open(spec.ID)
	if err != nil {
		return d.configProblems(ctx, spec.ID, []string{fmt.Sprintf("config files: data folder: %v", err)})
	}
	f := files.NewFolder(root, nil)
	defer f.Close()
	f.SetOwner(d.volumes.Owner().UID, d.volumes.Owner().GID)
	vars := placeholders(spec)
	var problems []string
	for _, cf := range spec.ConfigFiles {
		if err := rewriteConfigFile(f, cf, vars); err != nil {
			problems = append(problems, fmt.Sprintf("config file %s (%s): %v", cf.Path, cf.Parser, err))
		}
	}
	return d.configProblems(ctx, spec.ID, problems)
}

// configProblems tells problems on the instance's console and in the log.
func (d *Daemon) configProblems(ctx context.Context, id string, problems []string) []string {
	for _, p := range problems {
		d.log.WarnContext(ctx, "config file not rewritten", "instance", id, "problem", p)
		d.announce(id, p+"; left as it was")
	}
	return problems
}

// placeholders are the values a spec's config files may name.
func placeholders(spec nodeapi.InstanceSpec) configfiles.Placeholders {
	env := make(map[string]string, len(spec.Env)+2)
	for k, v := range spec.Env {
		env[k] = v
	}
	port := strconv.Itoa(spec.PrimaryPort)
	env["SERVER_PORT"], env["PRIMARY_PORT"] = port, port
	return configfiles.Placeholders{Port: spec.PrimaryPort, IP: bindAddress, MemoryMiB: spec.MemoryMiB,
		Interface: bindAddress, Env: env}
}

// rewriteConfigFile rewrites one file, and writes it only when it changed.
func rewriteConfigFile(f *files.Folder, cf nodeapi.ConfigFile, vars configfiles.Placeholders) error {
	content, exists, err := readConfigFile(f, cf.Path)
	if err != nil {
		return err
	}
	if !exists && !configfiles.CreatesMissing(cf.Parser) {
		return nil
	}
	reps := make([]configfiles.Replacement, 0, len(cf.Replace))
	for _, r := range cf.Replace {
		v, err := r.Scalar()
		if err != nil {
			return fmt.Errorf("value of %q: %w", r.Match, err)
		}
		if v.Kind == configfiles.String {
			v.Text = vars.Render(v.Text)
		}
		reps = append(reps, configfiles.Replacement{Match: r.Match, IfValue: r.IfValue, Value: v})
	}
	out, err := configfiles.Rewrite(cf.Parser, content, reps)
	if err != nil {
		return err
	}
	if exists && bytes.Equal(out, content) {
		return nil
	}
	if dir := path.Dir(cf.Path); !exists && dir != "." {
		if err := f.Mkdir(dir); err != nil && files.KindOf(err) != files.Exist {
			return err
		}
	}
	_, err = f.Write(cf.Path, bytes.NewReader(out), int64(len(out)), maxConfigFileBytes)
	return err
}

// readConfigFile reads a config file; exists is false when there is none.
func readConfigFile(f *files.Folder, name string) (content []byte, exists bool, err error) {
	file, _, err := f.OpenFile("path", name, maxConfigFileBytes)
	switch {
	case files.KindOf(err) == files.NotExist:
		return nil, false, nil
	case files.KindOf(err) == files.TooLarge:
		return nil, true, fmt.Errorf("over the %s a config file may have", files.FormatBytes(maxConfigFileBytes))
	case err != nil:
		return nil, true, stripField(err)
	}
	defer file.Close()
	content, err = io.ReadAll(io.LimitReader(file, maxConfigFileBytes))
	return content, true, err
}

// stripField drops the "path: " a files error starts with; the problem
// already names the file.
func stripField(err error) error {
	return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "path: "))
}
