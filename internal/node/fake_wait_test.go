package node

import (
	"context"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
)

// fakeWaitPoll is how often the fake runtime's Wait looks at its container.
const fakeWaitPoll = 2 * time.Millisecond

// Wait polls the fake container until it is not running. It does not
// count as a call: the supervisors make it on their own.
func (f *fakeRuntime) Wait(ctx context.Context, id string) (runtime.State, error) {
	tick := time.NewTicker(fakeWaitPoll)
	defer tick.Stop()
	for {
		f.mu.Lock()
		c, ok := f.containers[id]
		var st runtime.State
		if ok {
			st = c.state
		}
		f.mu.Unlock()
		switch {
		case !ok:
			return runtime.State{}, runtime.ErrNotFound
		case !st.Running:
			return st, nil
		}
		select {
		case <-ctx.Done():
			return runtime.State{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// StreamStats has no samples to give.
func (f *fakeRuntime) StreamStats(ctx context.Context, id string, fn func(runtime.Stats)) error {
	return errFakeUnsupported
}
