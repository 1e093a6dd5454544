package panel

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/dispatch"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
)

// powerTimeout bounds a power call to a node; a stop may wait for the
// server to save its world.
const powerTimeout = 2 * time.Minute

// power runs start, stop, restart or kill, and answers the instance with
// the status the node reports once the action is done.
func (s *Server) power(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := decodeBody(r)
		if err != nil {
			return err
		}
		action, err := b.str("action", true, 16)
		if err != nil {
			return err
		}
		if !isPowerAction(action) {
			return fault.InvalidField("action", "must be start, stop, restart or kill")
		}
		t, err := f(r)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), powerTimeout)
		defer cancel()
		in, err := s.applyPower(ctx, r, t.in, action)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewInstance(in))
		return nil
	}
}

// isPowerAction reports whether action is one of the four power words.
func isPowerAction(action string) bool {
	switch action {
	case nodeapi.ActionStart, nodeapi.ActionRestart, nodeapi.ActionStop, nodeapi.ActionKill:
		return true
	}
	return false
}

// applyPower carries out a valid power action on in, for the power
// endpoint and the console alike. The desired state is recorded first, so
// that the reconciler keeps to it if the node is down now; then the node is
// asked to act at once, with the generation that desire was recorded at,
// so that an ensure the reconciler sent before cannot undo the action. It
// returns in with the status the node answered. r is the request, for the
// audit entry.
func (s *Server) applyPower(ctx context.Context, r *http.Request, in store.Instance, action string) (store.Instance, error) {
	return s.powerAs(ctx, in, action, func(e store.AuditEntry) { s.record(r, e) })
}

// powerAs is applyPower for any actor: record writes the action's entry
// in the activity log, as a request's caller or a schedule.
func (s *Server) powerAs(ctx context.Context, in store.Instance, action string, record func(store.AuditEntry)) (store.Instance, error) {
	desired := nodeapi.DesiredRunning
	if action == nodeapi.ActionStop || action == nodeapi.ActionKill {
		desired = nodeapi.DesiredStopped
	}
	if in.Suspended && desired == nodeapi.DesiredRunning {
		return in, fault.New(fault.Conflict, "instance is suspended")
	}
	if in.InternalState != store.StateReady {
		return in, fault.New(fault.Conflict, "instance is %s, not READY", in.InternalState)
	}
	in, err := s.store.SetDesired(ctx, in.ID, desired)
	if err != nil {
		return in, err
	}
	record(store.AuditEntry{Action: "instance.power." + action, InstanceID: in.ID, Target: in.ID})
	in, err = s.requestPower(ctx, in, action, desired)
	if err != nil {
		// The node did not act: its worker carries the desire recorded
		// above as soon as it can, rather than at its next visit.
		s.cfg.KickNode(in.NodeID)
	}
	return in, err
}

// requestPower asks in's node to carry out action now, and records what
// the node answered.
func (s *Server) requestPower(ctx context.Context, in store.Instance, action, desired string) (store.Instance, error) {
	c, err := s.nodeClient(ctx, in)
	if err != nil {
		return in, err
	}
	if desired == nodeapi.DesiredRunning && in.AppliedGeneration < in.Generation {
		// The node still holds an older spec, one from before an unsuspend
		// say, and would refuse the start or start what is no longer
		// wanted: hand it the current spec first.
		if err := s.pushSpec(ctx, c, in); err != nil {
			return in, err
		}
	}
	st, err := c.RequestPower(ctx, in.ID, nodeapi.PowerRequest{Action: action, Generation: in.Generation})
	if err != nil {
		return in, nodeFault(in, err)
	}
	if err := s.store.SetObserved(ctx, in.NodeID, in.ID, dispatch.Observation(st)); err != nil {
		s.log.ErrorContext(ctx, "record observed state", "instance", in.ID, "err", err)
	}
	in.Status, in.ContainerID, in.ExitCode, in.OOMKilled, in.NodeError = st.Status, st.ContainerID, st.ExitCode, st.OOMKilled, st.Error
	return in, nil
}

// pushSpec has the node apply the instance's current spec, as the
// reconciler would on its next pass, and records that it did.
func (s *Server) pushSpec(ctx context.Context, c *nodeapi.Client, in store.Instance) error {
	spec, err := dispatch.Spec(ctx, s.store, in)
	if err != nil {
		return err
	}
	st, err := c.EnsureInstance(ctx, spec)
	if err != nil {
		return nodeFault(in, err)
	}
	return s.store.MarkApplied(ctx, in.ID, spec.Generation, st.Status, st.ContainerID)
}

// logs answers the last lines of an instance's console output.
func (s *Server) logs(f instanceFront) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		tail, err := nodeapi.ParseTail(r.URL.Query(), nodeapi.DefaultLogTail)
		if err != nil {
			return err
		}
		t, c, err := s.instanceAndNode(r, f)
		if err != nil {
			return err
		}
		lines, err := c.Logs(r.Context(), t.in.ID, tail)
		if err != nil {
			return nodeFault(t.in, err)
		}
		writeJSON(w, http.StatusOK, logsView{ID: t.in.ID, Lines: lines})
		return nil
	}
}

// instanceAndNode resolves the request's instance through f and returns
// it with a client for its node.
func (s *Server) instanceAndNode(r *http.Request, f instanceFront) (target, *nodeapi.Client, error) {
	t, err := f(r)
	if err != nil {
		return t, nil, err
	}
	c, err := s.nodeClient(r.Context(), t.in)
	return t, c, err
}

// nodeClient returns a client for the instance's node, or an Unavailable
// fault when the node cannot be called.
func (s *Server) nodeClient(ctx context.Context, in store.Instance) (*nodeapi.Client, error) {
	n, err := s.store.NodeByID(ctx, in.NodeID)
	if err != nil {
		return nil, err
	}
	if n.Token == "" {
		return nil, fault.New(fault.Unavailable, "node %s is not configured yet", n.Name)
	}
	return dispatch.ClientFor(n, s.cfg.NodeTLS), nil
}

// nodeFault explains a failed node call in the caller's terms. The node's
// answer stands, with its kind and its words, but for two cases: an
// instance the node has no record of is one it has not created yet, and a
// node that did not answer, or failed without saying why, is unavailable.
// Errors that are not the node's pass through.
func nodeFault(in store.Instance, err error) error {
	var ne *nodeapi.Error
	switch {
	case !errors.As(err, &ne):
		return err
	case nodeapi.IsInstanceNotFound(err):
		return &fault.Error{Kind: fault.Conflict, Msg: "the node has not created this instance yet", Err: err}
	case ne.Status == 0 || ne.Kind == fault.Other:
		return &fault.Error{Kind: fault.Unavailable, Err: err,
			Msg: "node " + in.Node.Name + ": " + ne.Message + "; the desired state is saved and will be applied when it answers"}
	}
	return err
}
