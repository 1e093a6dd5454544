package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// maxBodyBytes caps request bodies; a spec is a few KiB at most.
const maxBodyBytes = 1 << 20

// removeStopTimeout is the stop grace of DELETE: the data is about to be
// deleted, so there is nothing a long clean shutdown could save.
const removeStopTimeout = 5 * time.Second

// healthRuntimeTimeout bounds the runtime check of GET /v1/health.
const healthRuntimeTimeout = 3 * time.Second

func (d *Daemon) handleHealth(w http.ResponseWriter, r *http.Request) error {
	httplog.Routine(r.Context())
	h := nodeapi.Health{Version: d.cfg.Version, CPUs: goruntime.NumCPU(), SFTPPort: d.sftpPort()}
	// Health must answer fast even when Docker hangs; that is when it matters.
	ctx, cancel := context.WithTimeout(r.Context(), healthRuntimeTimeout)
	defer cancel()
	states, err := d.rt.List(ctx)
	h.Docker = err == nil
	recs, _, _ := d.records.All()
	h.Instances = len(instanceIDs(recs, states))
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (d *Daemon) handleListInstances(w http.ResponseWriter, r *http.Request) error {
	httplog.Routine(r.Context())
	list, err := d.listInstances(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (d *Daemon) handleGetInstance(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rec, found, err := d.records.Load(id)
	if err != nil {
		return err
	}
	st, err := d.inspect(r.Context(), id)
	if err != nil {
		return err
	}
	if !found && st == nil {
		return errInstanceNotFound
	}
	writeJSON(w, http.StatusOK, observe(id, recordOrNil(rec, found), st, d.phase(id, st)))
	return nil
}

func (d *Daemon) handleEnsureInstance(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var spec nodeapi.InstanceSpec
	if err := decodeJSON(w, r, &spec); err != nil {
		return err
	}
	if spec.ID != id {
		return &nodeapi.FieldError{Field: "id", Rule: "must equal the instance ID in the path"}
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	st, err := d.ensure(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (d *Daemon) handleRemoveInstance(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := d.remove(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (d *Daemon) handlePower(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req nodeapi.PowerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch req.Action {
	case nodeapi.ActionStart, nodeapi.ActionStop, nodeapi.ActionRestart, nodeapi.ActionKill:
	default:
		return &nodeapi.FieldError{Field: "action", Rule: fmt.Sprintf("must be one of %s, %s, %s, %s",
			nodeapi.ActionStart, nodeapi.ActionStop, nodeapi.ActionRestart, nodeapi.ActionKill)}
	}
	if req.Generation < 0 {
		return &nodeapi.FieldError{Field: "generation", Rule: "must not be negative"}
	}
	st, err := d.power(r.Context(), id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (d *Daemon) handleLogs(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	tail, err := nodeapi.ParseTail(r.URL.Query(), nodeapi.DefaultLogTail)
	if err != nil {
		return err
	}
	lines, err := d.rt.Logs(r.Context(), id, tail)
	if errors.Is(err, runtime.ErrNotFound) {
		// An instance whose container is not created yet has no output.
		if _, found, lerr := d.records.Load(id); lerr == nil && found {
			lines, err = nil, nil
		}
	}
	if err != nil {
		return err
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, nodeapi.Logs{Lines: lines})
	return nil
}

// listInstances reports every instance the node knows: those with a stored
// spec and those with a labelled container, sorted by ID.
func (d *Daemon) listInstances(ctx context.Context) ([]nodeapi.InstanceStatus, error) {
	states, err := d.rt.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRuntimeDown, err)
	}
	recs, bad, err := d.records.All()
	if err != nil {
		return nil, err
	}
	for _, err := range bad {
		d.log.ErrorContext(ctx, "unreadable instance spec", "err", err)
	}
	byID := make(map[string]*runtime.State, len(states))
	for i := range states {
		byID[states[i].InstanceID] = &states[i]
	}
	ids := instanceIDs(recs, states)
	list := make([]nodeapi.InstanceStatus, 0, len(ids))
	for _, id := range ids {
		rec, found := recs[id]
		list = append(list, observe(id, recordOrNil(rec, found), byID[id], d.phase(id, byID[id])))
	}
	return list, nil
}

// instanceIDs is the sorted union of the stored and the running instances.
func instanceIDs(recs map[string]records.Record, states []runtime.State) []string {
	seen := make(map[string]bool, len(recs)+len(states))
	for id := range recs {
		seen[id] = true
	}
	for _, st := range states {
		seen[st.InstanceID] = true
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ensure makes the instance match spec: stored, data folder present,
// container matching, and running or stopped as wanted. An instance that
// already matches costs one file read and three cheap runtime calls
// (inspect, ensure, inspect): nothing is written, stopped or restarted.
func (d *Daemon) ensure(ctx context.Context, spec nodeapi.InstanceSpec) (nodeapi.InstanceStatus, error) {
	id := spec.ID
	ctx, unlock, err := d.lockInstance(ctx, id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	defer unlock()

	prev, found, err := d.records.Load(id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	if found && spec.Generation < max(prev.Spec.Generation, prev.PowerGeneration) {
		// Sent before a newer desire reached the node (a power action, or
		// a newer spec): applying it would undo that. It is answered with
		// what is, and nothing is done.
		d.log.InfoContext(ctx, "ignored an ensure of an older generation", "instance", id,
			"generation", spec.Generation, "spec_generation", prev.Spec.Generation,
			"power_generation", prev.PowerGeneration)
		return d.status(ctx, id, &prev)
	}
	rec := prev
	rec.Spec = spec
	// The spec is stored before anything else happens, so that a crash from
	// here on leaves a node that knows the instance and can remove it.
	if err := d.records.Save(id, rec); err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	d.sups.get(id).configure(&rec)
	// An instance still to be installed waits here, installing.
	if st, wait, err := d.installGate(ctx, &rec); wait || err != nil {
		return st, err
	}

	st, err := d.inspect(ctx, id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	if !wantRunning(spec) && st != nil && st.Running {
		// Stop before Ensure: the runtime recreates a changed container
		// only once it is stopped.
		if err := d.stop(ctx, id, &rec, d.cfg.StopTimeout); err != nil {
			return nodeapi.InstanceStatus{}, err
		}
	}
	state, err := d.ensureContainer(ctx, &rec)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	if wantRunning(spec) && !state.Running {
		if err := d.start(ctx, id, &rec); err != nil {
			return nodeapi.InstanceStatus{}, err
		}
	}
	if err := d.records.Save(id, rec); err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	return d.status(ctx, id, &rec)
}

// ensureContainer creates the data folder and has the runtime create or
// update the container from rec's spec, recording the outcome in rec.
func (d *Daemon) ensureContainer(ctx context.Context, rec *records.Record) (runtime.State, error) {
	id := rec.Spec.ID
	if err := d.volumes.Create(id); err != nil {
		return runtime.State{}, fmt.Errorf("data folder of %s: %w", id, err)
	}
	state, err := d.rt.Ensure(ctx, d.runtimeSpec(rec.Spec), func(msg string) {
		d.log.DebugContext(ctx, "pull progress", "instance", id, "progress", msg)
	})
	if err != nil {
		d.recordFailure(ctx, rec, err.Error())
		return state, err
	}
	rec.Applied = rec.Spec.Generation
	rec.Error = ""
	return state, nil
}

// recordFailure stores why applying rec's spec failed, for the panel to read
// in the instance's status (its Error) once the request itself is gone. A
// canceled request is no failure of the instance and is not recorded.
func (d *Daemon) recordFailure(ctx context.Context, rec *records.Record, msg string) {
	if ctx.Err() != nil {
		return
	}
	rec.Error = msg
	if err := d.records.Save(rec.Spec.ID, *rec); err != nil {
		d.log.ErrorContext(ctx, "record failure", "instance", rec.Spec.ID, "err", err)
	}
}

// start rewrites the spec's config files, then starts the container and,
// once it runs, clears the stopped-on-purpose mark and any earlier
// failure; a config file it could not rewrite stays as the error. rec is
// nil for a container the node has no spec for. A failure (a host port
// taken, say) is recorded.
func (d *Daemon) start(ctx context.Context, id string, rec *records.Record) error {
	if err := d.checkDiskBeforeStart(ctx, id, rec); err != nil {
		return err
	}
	var problems []string
	if rec != nil {
		if err := d.checkStartupShell(ctx, rec.Spec); err != nil {
			d.recordFailure(ctx, rec, "start: "+err.Error())
			return err
		}
		problems = d.applyConfigFiles(ctx, rec.Spec)
	}
	if err := d.sups.get(id).start(ctx); err != nil {
		if rec != nil {
			d.recordFailure(ctx, rec, "start: "+err.Error())
		}
		return err
	}
	if msg := strings.Join(problems, "; "); rec != nil && (rec.StoppedByNode || rec.Error != msg) {
		rec.StoppedByNode, rec.Error = false, msg
		return d.records.Save(id, *rec)
	}
	return nil
}

// checkStartupShell refuses to start a startup line written for bash in
// an image without /bin/bash, saying so, rather than let the container
// fail to find its shell.
func (d *Daemon) checkStartupShell(ctx context.Context, spec nodeapi.InstanceSpec) error {
	needs, construct := runtime.NeedsBash(spec.Startup)
	if !needs {
		return nil
	}
	ok, err := d.rt.HasFile(ctx, spec.ID, runtime.Bash)
	if err != nil {
		return err
	}
	if !ok {
		return &apiError{http.StatusConflict, fmt.Sprintf("the startup line uses bash syntax (%s), but image %s has no %s: "+
			"use an image with bash, or a startup line for sh", construct, spec.Image, runtime.Bash)}
	}
	return nil
}

// stop stops the container with the spec's stop command, then SIGTERM,
// then SIGKILL, through the instance's supervisor. The mark that the node
// stopped it is stored first, so that even a daemon that dies mid-stop
// does not later call the exit a crash. A missing container is stopped.
func (d *Daemon) stop(ctx context.Context, id string, rec *records.Record, timeout time.Duration) error {
	stopCommand := ""
	if rec != nil {
		stopCommand = rec.Spec.StopCommand
		if err := d.markStopped(id, rec); err != nil {
			return err
		}
	}
	return d.sups.get(id).stop(ctx, stopCommand, timeout)
}

func (d *Daemon) markStopped(id string, rec *records.Record) error {
	if rec.StoppedByNode {
		return nil
	}
	rec.StoppedByNode = true
	return d.records.Save(id, *rec)
}

// power carries out one power action, serialized with every other
// operation on the same instance. A kill does not queue: it signals at
// once, cancels the operation in progress, and then takes its turn to
// record itself and wait for the exit.
func (d *Daemon) power(ctx context.Context, id string, req nodeapi.PowerRequest) (nodeapi.InstanceStatus, error) {
	action := req.Action
	if action == nodeapi.ActionKill {
		d.sups.get(id).interrupt()
		if err := d.rt.Kill(ctx, id, "SIGKILL"); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return nodeapi.InstanceStatus{}, err
		}
	}
	ctx, unlock, err := d.lockInstance(ctx, id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	defer unlock()

	stored, found, err := d.records.Load(id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	rec := recordOrNil(stored, found)
	st, err := d.inspect(ctx, id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	if rec == nil && st == nil {
		d.sups.drop(id)
		return nodeapi.InstanceStatus{}, errInstanceNotFound
	}
	starts := action == nodeapi.ActionStart || action == nodeapi.ActionRestart
	if starts && rec != nil && rec.Spec.Suspended {
		return nodeapi.InstanceStatus{}, errSuspended
	}
	if rec != nil {
		if err := d.recordPower(id, rec, req); err != nil {
			return nodeapi.InstanceStatus{}, err
		}
	}

	switch action {
	case nodeapi.ActionStop:
		err = d.stop(ctx, id, rec, d.cfg.StopTimeout)
	case nodeapi.ActionKill:
		if rec != nil {
			if err := d.markStopped(id, rec); err != nil {
				return nodeapi.InstanceStatus{}, err
			}
		}
		err = d.sups.get(id).kill(ctx)
	case nodeapi.ActionRestart:
		if err = d.stop(ctx, id, rec, d.cfg.StopTimeout); err == nil {
			err = d.powerOn(ctx, id, rec)
		}
	case nodeapi.ActionStart:
		err = d.powerOn(ctx, id, rec)
	}
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	return d.status(ctx, id, rec)
}

// powerOn starts the instance. With a stored spec it first re-ensures the
// container, so that a spec that changed while it ran, or a container
// removed behind the node's back, is applied now.
func (d *Daemon) powerOn(ctx context.Context, id string, rec *records.Record) error {
	if rec != nil {
		if _, err := d.ensureContainer(ctx, rec); err != nil {
			return err
		}
		if err := d.records.Save(id, *rec); err != nil {
			return err
		}
	}
	return d.start(ctx, id, rec)
}

// remove stops and deletes the container, then the data folder, then the
// spec: the spec goes last so that an interrupted removal is retried in
// full. Removing an instance that is already gone succeeds.
func (d *Daemon) remove(ctx context.Context, id string) error {
	// Before the lock, which an ending install takes to record its end.
	d.installs.Stop(id)
	d.endSFTPSessions(id, "the instance was removed")
	ctx, unlock, err := d.lockInstance(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()

	stored, found, err := d.records.Load(id)
	if err != nil {
		return err
	}
	if err := d.stop(ctx, id, recordOrNil(stored, found), removeStopTimeout); err != nil {
		return err
	}
	if err := d.rt.Remove(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	if err := d.volumes.Remove(id); err != nil {
		return fmt.Errorf("data folder of %s: %w", id, err)
	}
	if err := d.installer.Logs.Remove(id); err != nil {
		return fmt.Errorf("install log of %s: %w", id, err)
	}
	// Locked backups too: deleting an instance deletes all its backups.
	if err := d.backups.RemoveInstance(ctx, id); err != nil {
		return fmt.Errorf("backups of %s: %w", id, err)
	}
	if err := d.records.Remove(id); err != nil {
		return err
	}
	d.sups.drop(id)
	d.extracts.forget(id)
	return nil
}

// status reads the instance's current state from the runtime.
func (d *Daemon) status(ctx context.Context, id string, rec *records.Record) (nodeapi.InstanceStatus, error) {
	st, err := d.inspect(ctx, id)
	if err != nil {
		return nodeapi.InstanceStatus{}, err
	}
	return observe(id, rec, st, d.phase(id, st)), nil
}

// inspect returns the container's state, or nil when there is none.
func (d *Daemon) inspect(ctx context.Context, id string) (*runtime.State, error) {
	st, err := d.rt.Inspect(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, nil
	}
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: inspect %s: %w", errRuntimeDown, id, err)
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// runtimeSpec translates the panel's spec into the runtime's. The
// environment is sorted so that the same spec always hashes the same and
// an unchanged instance is never recreated.
func (d *Daemon) runtimeSpec(s nodeapi.InstanceSpec) runtime.Spec {
	ports := make([]runtime.PortBinding, len(s.Ports))
	for i, p := range s.Ports {
		ports[i] = runtime.PortBinding{Container: p.Container, Host: p.Host}
	}
	env := make([]string, 0, len(s.Env)+2)
	for k, v := range s.Env {
		// The node sets these two itself; a template cannot override them.
		if k == "PRIMARY_PORT" || k == "SERVER_PORT" {
			continue
		}
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	primary := strconv.Itoa(s.PrimaryPort)
	env = append(env, "PRIMARY_PORT="+primary, "SERVER_PORT="+primary)
	var cmd []string
	if s.Startup != "" {
		cmd = runtime.ShellCommand(s.Startup)
	}
	return runtime.Spec{
		InstanceID: s.ID,
		Image:      s.Image,
		MemoryMiB:  s.MemoryMiB,
		CPU:        s.CPU,
		Ports:      ports,
		Env:        env,
		Cmd:        cmd,
		DataDir:    d.volumes.Path(s.ID),
		MountPath:  s.MountPath,
		User:       d.volumes.Owner().String(),
	}
}

// pathID returns the request's validated {id}. Every path on disk and
// every runtime call is derived from an ID that passed here.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := nodeapi.ValidateInstanceID(id); err != nil {
		return "", err
	}
	return id, nil
}

func recordOrNil(rec records.Record, found bool) *records.Record {
	if !found {
		return nil
	}
	return &rec
}

// decodeJSON reads one JSON value of at most maxBodyBytes into v. Unknown
// fields are ignored so that a newer panel can talk to an older node.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return &apiError{http.StatusBadRequest, "body must hold a single JSON value"}
		}
		return nil
	}
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return &apiError{http.StatusBadRequest, "body is empty; a JSON object is required"}
	case errors.As(err, &syntax):
		return &apiError{http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{http.StatusBadRequest, "malformed JSON: body ends too soon"}
	case errors.As(err, &typ) && typ.Field != "":
		return &nodeapi.FieldError{Field: typ.Field, Rule: "must be a JSON " + jsonKind(typ.Type.Kind())}
	case errors.As(err, &typ):
		return &apiError{http.StatusBadRequest, "body must be a JSON object"}
	default:
		return &apiError{http.StatusBadRequest, "malformed JSON"}
	}
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Bool:
		return "boolean"
	default:
		return k.String()
	}
}
