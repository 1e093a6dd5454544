package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/node"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/docker"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// `berth image test TEMPLATE` is the conformance check for template
// authors: it deploys the template on a node of this machine, waits until
// the instance is READY and running (its ready pattern seen), stops it
// through its stop command, and removes it, timing each phase.
//
// Everything runs in a throwaway environment: a panel on a fresh SQLite
// database and a node, both in one temporary folder and on loopback ports
// of their own, wired as `berth up` wires them, so the test neither
// touches the operator's data nor clashes with a running `berth up`. The
// deploy, the waits and the stop all go through the panel's API, as a
// client's would.

const imageTestUsage = "usage: berth image test TEMPLATE [-data DIR | -database URL] [-timeout D] [-var NAME=VALUE]... " +
	"[-memory MiB] [-cpu N] [-stop-timeout D] [-allow-private-downloads]"

// errImageTestFailed is what a failed test returns once it has reported.
var errImageTestFailed = errors.New("image test failed")

// imageTestOptions are the flags of `berth image test`.
type imageTestOptions struct {
	timeout     time.Duration
	stopTimeout time.Duration
	memoryMiB   int64
	cpu         float64
	vars        map[string]string
	install     node.InstallConfig
	runtime     runtimeSettings
	log         *slog.Logger
}

// pollInterval is how often the test reads the instance while it waits.
const pollInterval = 100 * time.Millisecond

// cleanupTimeout bounds removing the test instance and stopping the
// throwaway panel and node, even after the test was interrupted.
const cleanupTimeout = 2 * time.Minute

// runImageTest is `berth image test`.
func runImageTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("image test")
	fs.SetOutput(stderr)
	var data, dbURL string
	config.BindData(fs, &data)
	config.BindDatabase(fs, &dbURL)
	opts := imageTestOptions{vars: map[string]string{}}
	fs.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "how long the instance may take to install and become ready")
	fs.DurationVar(&opts.stopTimeout, "stop-timeout", node.DefaultStopTimeout,
		"how long the server may take to stop after its stop command; one still running then fails the test")
	fs.Int64Var(&opts.memoryMiB, "memory", 1024, "memory of the test instance, in MiB")
	fs.Float64Var(&opts.cpu, "cpu", 1, "CPU cores of the test instance")
	fs.Func("var", "a variable of the template, NAME=VALUE (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want NAME=VALUE")
		}
		opts.vars[name] = value
		return nil
	})
	bindInstallFlags(fs, &opts.install)
	bindRuntimeFlags(fs, &opts.runtime)
	verbose := fs.Bool("v", false, "log what the panel and the node do")
	targets, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(targets) != 1 {
		fmt.Fprintln(stderr, imageTestUsage)
		return errUsage
	}
	if opts.timeout <= 0 || opts.stopTimeout <= 0 || opts.memoryMiB < 1 || !(opts.cpu > 0) {
		return errors.New("image test: -timeout, -stop-timeout, -memory and -cpu must be positive")
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	opts.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	t, from, err := loadTestTemplate(ctx, targets[0], data, dbURL)
	if err != nil {
		return fmt.Errorf("image test: %w", err)
	}
	fmt.Fprintf(stdout, "Testing image template %q (%s) on a throwaway local node\n", t.Name, from)
	if !testTemplate(ctx, t, opts, stdout) {
		return errImageTestFailed
	}
	return nil
}

// loadTestTemplate reads the template to test: the file named ref, or the
// stored template whose Id or Name is ref, or the built-in of that name.
// from says which, for the report.
func loadTestTemplate(ctx context.Context, ref, data, dbURL string) (images.Template, string, error) {
	if info, err := os.Stat(ref); err == nil && info.Mode().IsRegular() {
		raw, err := os.ReadFile(ref)
		if err != nil {
			return images.Template{}, "", err
		}
		t, format, err := images.ImportFormat(raw)
		if err != nil {
			return images.Template{}, "", fmt.Errorf("%s: %w", ref, err)
		}
		return t, fmt.Sprintf("%s, read from %s", format, ref), nil
	}
	// A data folder that does not exist holds no templates; opening it
	// would create it.
	if _, err := os.Stat(data); dbURL != "" || err == nil {
		st, err := openStore(ctx, data, dbURL)
		if err != nil {
			return images.Template{}, "", err
		}
		defer st.Close()
		row, err := st.TemplateByRef(ctx, ref)
		if err == nil {
			t, err := images.Decode(row.Doc)
			t.ID, t.Name = row.ID, row.Name
			return t, "stored as " + row.ID, err
		}
		if !fault.Is(err, fault.NotExist) {
			return images.Template{}, "", err
		}
	}
	builtins, err := images.Builtins()
	if err != nil {
		return images.Template{}, "", err
	}
	for _, t := range builtins {
		if strings.EqualFold(t.Name, ref) {
			return t, "built in", nil
		}
	}
	return images.Template{}, "", fmt.Errorf("%q is neither a template file nor the Id or Name of a stored or built-in template", ref)
}

// testTemplate runs the test of t and reports it on out; it returns
// whether the template passed.
func testTemplate(ctx context.Context, t images.Template, opts imageTestOptions, out io.Writer) bool {
	env, err := startTestEnv(ctx, opts)
	if err != nil {
		fmt.Fprintf(out, "FAIL: could not start the test panel and node: %v\n", err)
		return false
	}
	r := &testRun{env: env, tmpl: t, opts: opts, out: out}
	reason := r.run(ctx)
	if err := env.close(r.instanceID); err != nil {
		fmt.Fprintf(out, "  cleanup: %v\n", err)
	}
	if reason != "" {
		fmt.Fprintf(out, "FAIL: %s\n", reason)
		return false
	}
	fmt.Fprintln(out, "PASS")
	return true
}

// testEnv is the throwaway panel and node a test runs on.
type testEnv struct {
	dir    string
	panel  *panelProcess
	api    *apiClient
	nodeID string
	userID string // the test user, once created
	node   *nodeapi.Client
	rt     *docker.Runtime
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   []error
	mu     sync.Mutex
}

// startTestEnv starts a panel and a node in a new temporary folder, each
// on a loopback port, wired as `berth up` wires them.
func startTestEnv(ctx context.Context, opts imageTestOptions) (_ *testEnv, err error) {
	dir, err := os.MkdirTemp("", "berth-image-test-")
	if err != nil {
		return nil, err
	}
	env := &testEnv{dir: dir, cancel: func() {}}
	defer func() {
		if err != nil {
			env.close("")
		}
	}()
	// The panel's own install deadline is later than the test's, so that
	// the test's timeout is the one that decides, and says so.
	p, err := openPanel(ctx, config.Panel{Data: filepath.Join(dir, "panel"), APICompat: "seed",
		InstallTimeout: opts.timeout + time.Minute}, opts.log, nil)
	if err != nil {
		return env, err
	}
	env.panel = p
	nodeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return env, err
	}
	nodeDir := filepath.Join(dir, "node")
	if err := ensureLocalNode(ctx, p.store, nodeDir, nodeLn.Addr().String()); err != nil {
		nodeLn.Close()
		return env, err
	}
	ncfg, err := node.LoadConfig(nodeDir)
	if err != nil {
		nodeLn.Close()
		return env, err
	}
	ncfg.Version, ncfg.Install, ncfg.StopTimeout = Version, opts.install, opts.stopTimeout
	if env.rt, err = opts.runtime.newRuntime(ctx, nodeDir, opts.log.With("component", "node")); err != nil {
		nodeLn.Close()
		return env, err
	}
	daemon, err := node.New(ncfg, env.rt, opts.log.With("component", "node"))
	if err != nil {
		nodeLn.Close()
		return env, err
	}
	panelLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		nodeLn.Close()
		return env, err
	}
	_, key, err := createAPIKey(ctx, p.store, "image-test")
	if err != nil {
		nodeLn.Close()
		panelLn.Close()
		return env, err
	}
	nodes, err := p.store.ListNodes(ctx)
	if err != nil || len(nodes) != 1 {
		nodeLn.Close()
		panelLn.Close()
		return env, fmt.Errorf("local node: %d nodes, %v", len(nodes), err)
	}
	env.nodeID = nodes[0].ID
	env.node = dispatch.ClientFor(nodes[0], nil)

	// Served past ctx, so that an interrupted test still cleans up.
	serveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	env.cancel = cancel
	env.serve(func() error { return daemon.Serve(serveCtx, nodeLn) })
	env.serve(func() error { return p.serve(serveCtx, panelLn) })
	env.api = &apiClient{base: "http://" + panelLn.Addr().String(), key: key, http: &http.Client{Timeout: 3 * time.Minute}}
	return env, nil
}

func (env *testEnv) serve(fn func() error) {
	env.wg.Go(func() {
		if err := fn(); err != nil {
			env.mu.Lock()
			env.errs = append(env.errs, err)
			env.mu.Unlock()
		}
	})
}

// close removes the test instance (when there is one), stops the panel
// and the node, and deletes the temporary folder.
func (env *testEnv) close(instanceID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	if instanceID != "" {
		errs = append(errs, env.removeInstance(ctx, instanceID))
	}
	env.cancel()
	env.wg.Wait()
	errs = append(errs, env.errs...)
	if env.rt != nil {
		env.rt.Close()
	}
	if env.panel != nil {
		env.panel.close()
	}
	if err := os.RemoveAll(env.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", env.dir, err))
	}
	return errors.Join(errs...)
}

// removeInstance deletes the test instance through the panel and from
// the node at once, and waits until the panel has confirmed the removal.
func (env *testEnv) removeInstance(ctx context.Context, instanceID string) error {
	if env.api == nil {
		return nil
	}
	var errs []error
	if _, err := env.api.call(ctx, http.MethodDelete, "/api/instance/delete", map[string]string{"id": instanceID}, nil); err != nil {
		errs = append(errs, fmt.Errorf("delete instance: %w", err))
	}
	// Removed at once rather than at the reconciler's next pass.
	if err := env.node.RemoveInstance(ctx, instanceID); err != nil {
		errs = append(errs, fmt.Errorf("remove instance from the node: %w", err))
	}
	// The reconciler confirms the removal too; stopping the panel under
	// its call would only log an error.
	env.waitRemovals(ctx)
	return errors.Join(errs...)
}

// waitRemovals waits until the panel has no removal left to carry out.
func (env *testEnv) waitRemovals(ctx context.Context) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		list, err := env.panel.store.DueRemovals(ctx, time.Now().Add(time.Hour))
		if err != nil || len(list) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// apiClient calls the test panel's API.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

// apiError is a non-2xx answer of the panel.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

// call sends body as JSON and decodes a 2xx answer into out.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("x-api-key", c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return resp.StatusCode, &apiError{resp.StatusCode, e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// testInstance is the part of the panel's instance view the test reads.
type testInstance struct {
	ID            string `json:"Id"`
	InternalState string `json:"InternalState"`
	Status        string `json:"Status"`
	Error         string `json:"Error"`
	ContainerID   string `json:"ContainerId"`
}

// testRun is one test of one template.
type testRun struct {
	env        *testEnv
	tmpl       images.Template
	opts       imageTestOptions
	out        io.Writer
	instanceID string
}

// phase reports one timed phase.
func (r *testRun) phase(name string, d time.Duration, note string) {
	line := fmt.Sprintf("  %-15s %s", name, d.Round(time.Millisecond))
	if note != "" {
		line += "  (" + note + ")"
	}
	fmt.Fprintln(r.out, line)
}

// run deploys, waits for ready, stops; it returns why the template
// failed, or "".
func (r *testRun) run(ctx context.Context) string {
	if reason := r.deployReady(ctx); reason != "" {
		return reason
	}
	return r.stop(ctx)
}

// deployReady stores the template, deploys it, and waits until the
// instance is installed, running and READY; it returns why it is not, or
// "".
func (r *testRun) deployReady(ctx context.Context) string {
	stored, err := r.store(ctx)
	if err != nil {
		return "the template was refused: " + err.Error()
	}
	userID, err := r.createUser(ctx)
	if err != nil {
		return "create the test user: " + err.Error()
	}
	port, err := freeHostPort()
	if err != nil {
		return "find a free port: " + err.Error()
	}
	p := strconv.Itoa(port)
	var deployed struct {
		Instance testInstance `json:"instance"`
	}
	start := time.Now()
	_, err = r.env.api.call(ctx, http.MethodPost, "/api/instances/deploy", map[string]any{
		"name": "image-test", "image": stored, "memory": r.opts.memoryMiB, "cpu": r.opts.cpu,
		"ports": p + ":" + p, "primary": p, "nodeId": r.env.nodeID, "user": userID, "variables": r.opts.vars,
	}, &deployed)
	if err != nil {
		return "deploy was refused: " + err.Error()
	}
	r.instanceID = deployed.Instance.ID
	fmt.Fprintf(r.out, "  deployed instance %s on host port %d\n", r.instanceID, port)

	// Phases are timed by what the node reports, polled directly: the
	// panel learns it only at its reconciler's next pass.
	deadline := time.Now().Add(r.opts.timeout)
	installed, err := r.waitFor(ctx, deadline, "end of the install", "", func(o observation) bool {
		return o.node.ContainerID != "" && !o.node.Installing
	})
	if err != nil {
		return err.Error()
	}
	r.phase("install", installed.Sub(start), r.installNote())

	// The node reports running only once a ready pattern has appeared
	// in the console, for a template that has any.
	waiting, note := "", "running"
	if len(r.tmpl.ReadyPatterns) > 0 {
		waiting = "waiting for a console line matching " + quoteAll(r.tmpl.ReadyPatterns)
		note = "running: a console line matched " + quoteAll(r.tmpl.ReadyPatterns)
	}
	readyAt, err := r.waitFor(ctx, deadline, "ready", waiting, func(o observation) bool {
		return o.node.Status == nodeapi.StatusRunning
	})
	if err != nil {
		return err.Error()
	}
	r.phase("start to ready", readyAt.Sub(installed), note)
	// Power actions need the panel to have marked the instance READY.
	if _, err := r.waitFor(ctx, deadline, "READY in the panel", "", func(o observation) bool {
		return o.panel.InternalState == store.StateReady
	}); err != nil {
		return err.Error()
	}
	return ""
}

// store saves the template into the test panel and returns its Id. A
// built-in of the same name, which the panel installed on start, makes
// way for it.
func (r *testRun) store(ctx context.Context) (string, error) {
	st := r.env.panel.store
	if row, err := st.TemplateByRef(ctx, r.tmpl.Name); err == nil {
		if err := st.DeleteTemplate(ctx, row.ID); err != nil {
			return "", err
		}
	}
	t, err := st.SaveTemplate(ctx, r.tmpl)
	return t.ID, err
}

// createUser creates the user the test instances belong to, once per
// environment.
func (r *testRun) createUser(ctx context.Context) (string, error) {
	if r.env.userID != "" {
		return r.env.userID, nil
	}
	var u struct {
		UserID string `json:"userId"`
	}
	_, err := r.env.api.call(ctx, http.MethodPost, "/api/auth/create-user", map[string]any{
		"username": "image-test", "email": "image-test@berth.invalid", "password": secret.NewToken(""),
	}, &u)
	r.env.userID = u.UserID
	return u.UserID, err
}

// installNote says what the install phase held.
func (r *testRun) installNote() string {
	var parts []string
	if n := len(r.tmpl.Scripts.Install); n > 0 {
		parts = append(parts, fmt.Sprintf("%d download(s)", n))
	}
	if r.tmpl.Scripts.Installer != nil {
		parts = append(parts, "install script")
	}
	if len(parts) == 0 {
		return "no install; image and container"
	}
	return strings.Join(parts, ", ")
}

// observation is what one poll sees of the instance: the panel's view
// and the node's.
type observation struct {
	panel testInstance
	node  nodeapi.InstanceStatus
}

func (o observation) describe() string {
	s := fmt.Sprintf("%s in the panel, %s on the node", o.panel.InternalState, o.node.Status)
	if o.panel.Error != "" {
		s += ": " + o.panel.Error
	}
	return s
}

// waitFor polls the instance until done holds, failing on FAILED, on a
// crash and at deadline; it returns when done first held. waiting says
// what the instance waits for, for the timeout's reason.
func (r *testRun) waitFor(ctx context.Context, deadline time.Time, what, waiting string, done func(observation) bool) (time.Time, error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var o observation
	for {
		// A node that has not had the spec yet answers 404: not an error.
		perr := r.getInstance(ctx, &o.panel)
		if st, err := r.env.node.GetInstance(ctx, r.instanceID); err == nil {
			o.node = st
		}
		switch {
		case perr == nil && done(o):
			return time.Now(), nil
		case o.node.InstallError != "":
			return time.Time{}, fmt.Errorf("the install failed: %s", o.node.InstallError)
		case o.panel.InternalState == store.StateFailed:
			return time.Time{}, fmt.Errorf("the instance FAILED: %s", o.panel.Error)
		case o.node.Status == nodeapi.StatusCrashed:
			return time.Time{}, fmt.Errorf("the server exited with code %d before it was ready (status crashed)%s",
				o.node.ExitCode, r.lastOutput(ctx))
		case time.Now().After(deadline):
			reason := fmt.Sprintf("no %s within %s: the instance is %s", what, r.opts.timeout, o.describe())
			if waiting != "" {
				reason += "; " + waiting
			}
			return time.Time{}, errors.New(reason + r.lastOutput(ctx))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("interrupted while waiting for %s", what)
		case <-tick.C:
		}
	}
}

func (r *testRun) getInstance(ctx context.Context, in *testInstance) error {
	_, err := r.env.api.call(ctx, http.MethodPost, "/api/getInstance", map[string]string{"id": r.instanceID}, in)
	return err
}

// consoleTail is the last n lines of the instance's console.
func (r *testRun) consoleTail(ctx context.Context, n int) ([]string, error) {
	var logs struct {
		Lines []string `json:"lines"`
	}
	_, err := r.env.api.call(ctx, http.MethodGet, "/api/instances/logs/"+r.instanceID+"?tail="+strconv.Itoa(n), nil, &logs)
	return logs.Lines, err
}

// lastOutput is the console's last lines, for a failure's reason.
func (r *testRun) lastOutput(ctx context.Context) string {
	lines, err := r.consoleTail(ctx, 10)
	if err != nil || len(lines) == 0 {
		return ""
	}
	return "; last console output:\n    " + strings.Join(lines, "\n    ")
}

// stop stops the instance through the API and checks that it stopped by
// itself, before the node had to kill it.
func (r *testRun) stop(ctx context.Context) string {
	start := time.Now()
	var in testInstance
	if _, err := r.env.api.call(ctx, http.MethodPost, "/api/instances/power/"+r.instanceID,
		map[string]string{"action": nodeapi.ActionStop}, &in); err != nil {
		return "stop was refused: " + err.Error()
	}
	// The panel answers once the node has stopped the container.
	took := time.Since(start)
	st, err := r.env.node.GetInstance(ctx, r.instanceID)
	if err != nil {
		return "read the stopped instance: " + err.Error()
	}
	switch {
	case st.Running:
		return "the server is still running after the stop"
	case st.OOMKilled:
		return "the server ran out of memory while stopping"
	case took >= r.opts.stopTimeout || st.ExitCode == 137:
		// The node escalates (SIGTERM, then SIGKILL) only once the stop
		// command has had its time.
		return fmt.Sprintf("the server did not stop within -stop-timeout %s of its stop command %s; "+
			"the node had to signal it (exit code %d after %s)",
			r.opts.stopTimeout, stopWords(r.tmpl.StopCommand), st.ExitCode, took.Round(time.Millisecond))
	}
	r.phase("stop", took, fmt.Sprintf("%s, exit code %d", stopWords(r.tmpl.StopCommand), st.ExitCode))
	return ""
}

// quoteAll quotes each of list, joined by " or ".
func quoteAll(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, " or ")
}

// stopWords names a stop command for the report.
func stopWords(stop string) string {
	if stop == "" {
		return "SIGTERM"
	}
	return strconv.Quote(stop)
}

// freeHostPort returns a port free for TCP and UDP on every address now.
func freeHostPort() (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both TCP and UDP after 20 tries")
}
