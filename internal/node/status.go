package node

import (
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime"
)

// observe builds an instance's status from what the node stored (rec, nil
// when it has no spec) and what the runtime sees (st, nil when there is no
// container). phase, when set, is a transition the node is carrying out.
func observe(id string, rec *record, st *runtime.State, phase string) nodeapi.InstanceStatus {
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
	return s
}

// powerStatus maps a container's state to the panel's power words. A
// container that exited on its own with a non-zero code while the panel
// wanted it running has crashed; every other stopped container is stopped.
func powerStatus(rec *record, st runtime.State) string {
	switch {
	case st.Running:
		return nodeapi.StatusRunning
	case st.ExitCode == 0 && !st.OOMKilled:
		return nodeapi.StatusStopped
	case rec == nil || rec.StoppedByNode:
		return nodeapi.StatusStopped
	case wantRunning(rec.Spec):
		return nodeapi.StatusCrashed
	default:
		return nodeapi.StatusStopped
	}
}

// wantRunning reports whether the panel wants the instance's process up.
func wantRunning(s nodeapi.InstanceSpec) bool {
	return s.Desired == nodeapi.DesiredRunning && !s.Suspended
}
