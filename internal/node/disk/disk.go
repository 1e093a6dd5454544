// Package disk keeps the node's account of each instance's disk usage: it
// measures a data folder by one walk when first needed, follows the file
// API's writes from then on, and walks the running instances' folders
// again periodically to catch what the games wrote themselves, so that an
// instance over its limit can be stopped.
package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/node/volumes"
)

// walkers bounds the data folders walked at once, so that a node with
// many instances does not read its whole disk in one burst.
const walkers = 2

// Usage is one instance's usage and limit.
type Usage struct {
	files.Usage
	// walk is held while the folder is walked, so that two callers
	// needing a measure share one walk.
	walk sync.Mutex
	// walked is when the last walk ended.
	walked time.Time
}

// Accounting keeps the usage of every instance of one node. It is safe
// for concurrent use.
type Accounting struct {
	volumes volumes.Volumes
	log     *slog.Logger
	walks   chan struct{}

	mu sync.Mutex
	m  map[string]*Usage
}

// New returns the accounting of the data folders in v; log takes what a
// periodic check cannot measure.
func New(v volumes.Volumes, log *slog.Logger) *Accounting {
	return &Accounting{volumes: v, log: log, walks: make(chan struct{}, walkers), m: map[string]*Usage{}}
}

// Entry returns the instance's usage, created unmeasured when missing.
func (a *Accounting) Entry(id string) *Usage {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.m[id]
	if e == nil {
		e = &Usage{}
		a.m[id] = e
	}
	return e
}

// Forget drops the usages of instances not in keep.
func (a *Accounting) Forget(keep func(id string) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.m {
		if !keep(id) {
			delete(a.m, id)
		}
	}
}

// Measure returns the instance's usage with its limit set from limitMiB,
// walking its data folder when it was never measured, or when fresh asks
// for a walk that ends after this call began.
func (a *Accounting) Measure(ctx context.Context, id string, limitMiB int64, fresh bool) (*Usage, error) {
	e := a.Entry(id)
	e.SetLimit(limitMiB * files.MiB)
	if _, measured := e.Used(); measured && !fresh {
		return e, nil
	}
	since := time.Now()
	e.walk.Lock()
	defer e.walk.Unlock()
	if _, measured := e.Used(); measured && (!fresh || e.walked.After(since)) {
		return e, nil // measured by the walk this call waited for
	}
	select {
	case a.walks <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-a.walks }()
	root, err := a.volumes.Open(id)
	if errors.Is(err, fs.ErrNotExist) {
		e.Set(0) // no data folder yet: nothing stored
		e.walked = time.Now()
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data folder of %s: %w", id, err)
	}
	defer root.Close()
	used, err := files.Measure(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("measure data folder of %s: %w", id, err)
	}
	e.Set(used)
	e.walked = time.Now()
	return e, nil
}

// Instance is what a periodic check needs to know of one instance.
type Instance struct {
	ID       string
	LimitMiB int64
	Running  bool
}

// Check is one pass of the periodic check: it walks the data folder of
// every running instance in list, and of every one never measured, a few
// at a time, and calls over for each running instance found over its
// limit. It returns when all are done.
func (a *Accounting) Check(ctx context.Context, list []Instance, over func(ctx context.Context, id string)) {
	var wg sync.WaitGroup
	for _, in := range list {
		if _, measured := a.Entry(in.ID).Used(); measured && !in.Running {
			continue // stopped: only the file API writes, and it counts
		}
		wg.Go(func() {
			u, err := a.Measure(ctx, in.ID, in.LimitMiB, true)
			if err != nil {
				if ctx.Err() == nil {
					a.log.Warn("disk check: measure", "instance", in.ID, "err", err)
				}
				return
			}
			if isOver, _, _ := u.Over(); isOver && in.Running {
				over(ctx, in.ID)
			}
		})
	}
	wg.Wait()
}

// Watch calls pass every interval until ctx is done or the returned
// function is called, which waits for it to stop. A negative interval
// watches nothing.
func Watch(ctx context.Context, interval time.Duration, pass func(context.Context)) (stop func()) {
	if interval < 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pass(ctx)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// FormatMiB writes bytes as MiB for messages about the limit, rounded up
// so that "over" never reads as equal.
func FormatMiB(n int64) string {
	return fmt.Sprintf("%d MiB", (n+files.MiB-1)/files.MiB)
}
