package node

import (
	"github.com/berth-dev/berth/internal/node/records"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// observe builds an instance's status from what the node stored (rec, nil
// when it has no spec) and what the runtime sees (st, nil when there is no
// container). phase, when set, is the state its supervisor's state machine
// is in, which wins over what the container alone would tell.
func observe(id string, rec *records.Record, st *runtime.State, phase string) nodeapi.InstanceStatus {
	s := nodeapi.InstanceStatus{ID: id, Status: nodeapi.StatusOffline}
	if rec != nil {
		s.Generation = rec.Applied
		s.Suspended = rec.Spec.Suspended
		s.Error = rec.Error
	}
	if st != nil {
		s.ContainerID = st.ContainerID
		s.Running = st.Running
		s.ExitCode = st.ExitCode
		s.OOMKilled = st.OOMKilled
		s.StartedAt = st.StartedAt
		s.Status = powerStatus(rec, *st)
	}
	if phase != "" {
		s.Status = phase
	}
	if rec != nil {
		applyInstall(&s, rec.Install)
	}
	return s
}

// powerStatus maps a container's state to the panel's power words, for
// an instance whose supervisor knows nothing better yet. A container that
// exited while the panel wanted it running, and not because the node
// stopped it, has crashed, whatever its exit code; every other stopped
// container is stopped.
func powerStatus(rec *records.Record, st runtime.State) string {
	switch {
	case st.Running:
		return nodeapi.StatusRunning
	case st.Status == "created":
		// Never started: nothing has exited.
		return nodeapi.StatusStopped
	case rec == nil || rec.StoppedByNode:
		return nodeapi.StatusStopped
	case wantRunning(rec.Spec):
		return nodeapi.StatusCrashed
	default:
		return nodeapi.StatusStopped
	}
}

// phase is the status the supervisor of id reports given the runtime's
// view st, or "" when it has none or knows no better.
func (d *Daemon) phase(id string, st *runtime.State) string {
	s := d.sups.lookup(id)
	if s == nil {
		return ""
	}
	return s.observed(st)
}

// wantRunning reports whether the panel wants the instance's process up.
func wantRunning(s nodeapi.InstanceSpec) bool {
	return s.Desired == nodeapi.DesiredRunning && !s.Suspended
}
