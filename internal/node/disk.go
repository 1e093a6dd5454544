package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/files"
)

// FilesConfig tunes the file API and the enforcement of disk limits. Zero
// values take the defaults below.
type FilesConfig struct {
	// DiskCheckInterval is how often every running instance's data folder
	// is walked again, to catch what the game wrote itself and stop an
	// instance over its limit. Negative turns the periodic check off.
	DiskCheckInterval time.Duration
	// MaxUploadFileBytes caps each file of an upload.
	MaxUploadFileBytes int64
	// MaxUploadBytes caps all the files of one upload together.
	MaxUploadBytes int64
	// MaxExtractBytes caps the uncompressed size of one extraction.
	MaxExtractBytes int64
	// MaxExtractEntries caps the entries of one extracted archive.
	MaxExtractEntries int
}

// Defaults of FilesConfig.
const (
	DefaultDiskCheckInterval  = time.Minute
	DefaultMaxUploadFileBytes = 4 << 30
	DefaultMaxUploadBytes     = 8 << 30
	DefaultMaxExtractBytes    = 16 << 30
	DefaultMaxExtractEntries  = 200_000
)

// diskWalkers bounds the data folders walked at once, so that a node with
// many instances does not read its whole disk in one burst.
const diskWalkers = 2

func (c FilesConfig) withDefaults() FilesConfig {
	if c.DiskCheckInterval == 0 {
		c.DiskCheckInterval = DefaultDiskCheckInterval
	}
	if c.MaxUploadFileBytes <= 0 {
		c.MaxUploadFileBytes = DefaultMaxUploadFileBytes
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.MaxExtractBytes <= 0 {
		c.MaxExtractBytes = DefaultMaxExtractBytes
	}
	if c.MaxExtractEntries <= 0 {
		c.MaxExtractEntries = DefaultMaxExtractEntries
	}
	return c
}

// diskUsages keeps each instance's disk usage: measured by one walk when
// first needed, adjusted by the file API's writes, and walked again by the
// periodic check. Its zero value is ready to use.
type diskUsages struct {
	mu    sync.Mutex
	m     map[string]*diskUsage
	walks chan struct{}
}

type diskUsage struct {
	files.Usage
	// walk is held while the folder is walked, so that two callers
	// needing a measure share one walk.
	walk sync.Mutex
	// walked is when the last walk ended.
	walked time.Time
}

// entry returns the instance's usage, created unmeasured when missing.
func (u *diskUsages) entry(id string) *diskUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]*diskUsage{}
		u.walks = make(chan struct{}, diskWalkers)
	}
	e := u.m[id]
	if e == nil {
		e = &diskUsage{}
		u.m[id] = e
	}
	return e
}

// forget drops the usages of instances not in keep.
func (u *diskUsages) forget(keep func(id string) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id := range u.m {
		if !keep(id) {
			delete(u.m, id)
		}
	}
}

// diskUsage returns the instance's usage with its limit set from limitMiB,
// walking its data folder when it was never measured, or when fresh asks
// for a walk that ends after this call began.
func (d *Daemon) diskUsage(ctx context.Context, id string, limitMiB int64, fresh bool) (*diskUsage, error) {
	e := d.disk.entry(id)
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
	case d.disk.walks <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.disk.walks }()
	root, err := d.volumes.open(id)
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

// open opens the instance's data folder as a root. Going through the
// volumes folder's own root keeps a planted symbolic link from standing
// in for the folder.
func (v volumes) open(id string) (*os.Root, error) {
	parent, err := os.OpenRoot(v.dir)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	return parent.OpenRoot(id)
}

// overLimitError is the answer to a start of an instance past its limit.
func overLimitError(used, limit int64) error {
	return &apiError{http.StatusConflict, fmt.Sprintf("instance is over its disk limit (%s of %s)",
		mib(used), mib(limit))}
}

// mib writes bytes as MiB for messages about the limit, rounded up so
// that "over" never reads as equal.
func mib(n int64) string {
	return fmt.Sprintf("%d MiB", (n+files.MiB-1)/files.MiB)
}

// checkDiskBeforeStart refuses to start an instance whose data folder is
// over its disk limit. It walks the folder first, as the game may have
// written since the last walk; starts are rare enough to afford it. The
// refusal is recorded as the instance's error.
func (d *Daemon) checkDiskBeforeStart(ctx context.Context, id string, rec *record) error {
	if rec == nil || rec.Spec.DiskMiB <= 0 {
		return nil
	}
	u, err := d.diskUsage(ctx, id, rec.Spec.DiskMiB, true)
	if err != nil {
		return err
	}
	if over, used, limit := u.Over(); over {
		err := overLimitError(used, limit)
		d.recordFailure(ctx, rec, err.Error())
		return err
	}
	return nil
}

// notify tells whoever watches the instance something the node did to it
// on its own, such as stopping it: it is logged, shown on the instance's
// console, and recorded as the instance's error, which the panel shows.
func (d *Daemon) notify(id, message string) {
	d.log.Warn("instance notice", "instance", id, "message", message)
	d.announce(id, message)
	rec, found, err := d.records.load(id)
	if err != nil || !found {
		return
	}
	rec.Error = message
	if err := d.records.save(id, rec); err != nil {
		d.log.Error("record notice", "instance", id, "err", err)
	}
}

// watchDisk runs the periodic disk check until ctx is done or the
// returned function is called, which waits for it to stop.
func (d *Daemon) watchDisk(ctx context.Context) (stop func()) {
	interval := d.cfg.Files.withDefaults().DiskCheckInterval
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
				d.checkDisks(ctx)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// checkDisks is one pass of the periodic check: it walks the data folder
// of every running instance, and of every one never measured, a few at a
// time, then stops each running instance that is over its limit.
func (d *Daemon) checkDisks(ctx context.Context) {
	recs, _, err := d.records.all()
	if err != nil {
		d.log.Error("disk check: read instance specs", "err", err)
		return
	}
	d.disk.forget(func(id string) bool { _, ok := recs[id]; return ok })
	states, err := d.rt.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("disk check: container runtime unreachable", "err", err)
		}
		return
	}
	running := make(map[string]bool, len(states))
	for _, st := range states {
		running[st.InstanceID] = st.Running
	}
	var wg sync.WaitGroup
	for id, rec := range recs {
		if _, measured := d.disk.entry(id).Used(); measured && !running[id] {
			continue // stopped: only the file API writes, and it counts
		}
		wg.Go(func() {
			u, err := d.diskUsage(ctx, id, rec.Spec.DiskMiB, true)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("disk check: measure", "instance", id, "err", err)
				}
				return
			}
			if over, _, _ := u.Over(); over && running[id] {
				d.stopOverLimit(ctx, id)
			}
		})
	}
	wg.Wait()
}

// stopOverLimit stops a running instance found over its disk limit,
// serialized with every other operation on it, and says why.
func (d *Daemon) stopOverLimit(ctx context.Context, id string) {
	unlock, err := d.locks.lock(ctx, id)
	if err != nil {
		return
	}
	defer unlock()
	rec, found, err := d.records.load(id)
	if err != nil || !found || rec.Spec.DiskMiB <= 0 {
		return
	}
	u := d.disk.entry(id)
	over, used, limit := u.Over()
	if !over {
		return
	}
	st, err := d.inspect(ctx, id)
	if err != nil || st == nil || !st.Running {
		return
	}
	if err := d.stop(ctx, id, &rec, d.cfg.StopTimeout); err != nil {
		d.log.Error("disk check: stop instance over its limit", "instance", id, "err", err)
		return
	}
	d.notify(id, fmt.Sprintf("stopped: the data folder uses %s, over the instance's disk limit of %s; "+
		"delete files to start it again", mib(used), mib(limit)))
}
