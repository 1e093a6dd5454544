package panel

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/store"
)

// powerTimeout bounds a power call to a node; a stop may wait for the
// server to save its world.
const powerTimeout = 2 * time.Minute

// power runs start, stop, restart or kill. The desired state is recorded
// first, so that the reconciler keeps to it if the node is down now, and
// then the node is asked to act at once.
func (s *Server) power(w http.ResponseWriter, r *http.Request) {
	b, ok := s.decode(w, r)
	if !ok {
		return
	}
	action, err := b.str("action", true, 16)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	desired := nodeapi.DesiredRunning
	switch action {
	case nodeapi.ActionStart, nodeapi.ActionRestart:
	case nodeapi.ActionStop, nodeapi.ActionKill:
		desired = nodeapi.DesiredStopped
	default:
		s.writeError(w, r, fault.InvalidField("action", "must be start, stop, restart or kill"))
		return
	}
	in, ok := s.instanceOr404(w, r)
	if !ok {
		return
	}
	if in.Suspended && desired == nodeapi.DesiredRunning {
		s.writeError(w, r, fault.New(fault.Conflict, "instance is suspended"))
		return
	}
	if in.InternalState != store.StateReady {
		s.writeError(w, r, fault.New(fault.Conflict, "instance is %s, not READY", in.InternalState))
		return
	}
	if in, err = s.store.SetDesired(r.Context(), in.ID, desired); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "instance.power."+action, in.ID)
	c, err := s.nodeClient(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), powerTimeout)
	defer cancel()
	if desired == nodeapi.DesiredRunning && in.AppliedGeneration < in.Generation {
		// The node still holds an older spec, one from before an unsuspend
		// say, and would refuse the start or start what is no longer
		// wanted: hand it the current spec first.
		if err := s.pushSpec(ctx, c, in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	st, err := c.Power(ctx, in.ID, action)
	if err != nil {
		s.writeError(w, r, nodeFault(in, err))
		return
	}
	if err := s.store.SetObserved(r.Context(), in.ID, st.Status, st.ContainerID); err != nil {
		s.logError(r, "record observed state", err)
	}
	in.Status, in.ContainerID = st.Status, st.ContainerID
	writeJSON(w, http.StatusOK, viewInstance(in))
}

// pushSpec has the node apply the instance's current spec, as the
// reconciler would on its next pass, and records that it did.
func (s *Server) pushSpec(ctx context.Context, c *nodeapi.Client, in store.Instance) error {
	spec, err := reconcile.Spec(ctx, s.store, in)
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
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	tail := nodeapi.DefaultLogTail
	if q := r.URL.Query().Get("tail"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > nodeapi.MaxLogTail {
			s.writeError(w, r, fault.InvalidField("tail", "must be a whole number from 1 to %d", nodeapi.MaxLogTail))
			return
		}
		tail = n
	}
	in, ok := s.instanceOr404(w, r)
	if !ok {
		return
	}
	c, err := s.nodeClient(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lines, err := c.Logs(r.Context(), in.ID, tail)
	if err != nil {
		s.writeError(w, r, nodeFault(in, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": in.ID, "lines": lines})
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
	return reconcile.ClientFor(n), nil
}

// nodeFault explains a failed node call in the caller's terms.
func nodeFault(in store.Instance, err error) error {
	switch {
	case nodeapi.IsConflict(err):
		return &fault.Error{Kind: fault.Conflict, Msg: err.Error()}
	case nodeapi.IsNotFound(err):
		return &fault.Error{Kind: fault.Conflict, Msg: "the node has not created this instance yet"}
	}
	return &fault.Error{Kind: fault.Unavailable, Msg: "node " + in.Node.Name + " did not answer; the desired state is saved and will be applied when it does",
		Err: err}
}
