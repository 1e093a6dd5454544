package node

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/node/disk"
	"github.com/berth-dev/berth/internal/node/records"
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
	// MaxExtractsPerMinute caps the archive extractions of one instance
	// in any minute: an archive of empty files is small to send and
	// costly to write out.
	MaxExtractsPerMinute int
}

// Defaults of FilesConfig.
const (
	DefaultDiskCheckInterval  = time.Minute
	DefaultMaxUploadFileBytes = 4 << 30
	DefaultMaxUploadBytes     = 8 << 30
	DefaultMaxExtractBytes    = 16 << 30
	DefaultMaxExtractEntries  = 200_000
	// DefaultMaxExtractsPerMinute is MaxExtractsPerMinute left zero.
	DefaultMaxExtractsPerMinute = 6
)

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
	if c.MaxExtractsPerMinute <= 0 {
		c.MaxExtractsPerMinute = DefaultMaxExtractsPerMinute
	}
	return c
}

// overLimitError is the answer to a start of an instance past its limit.
func overLimitError(used, limit int64) error {
	return &apiError{http.StatusConflict, fmt.Sprintf("instance is over its disk limit (%s of %s)",
		disk.FormatMiB(used), disk.FormatMiB(limit))}
}

// checkDiskBeforeStart refuses to start an instance whose data folder is
// over its disk limit. It walks the folder first, as the game may have
// written since the last walk; starts are rare enough to afford it. The
// refusal is recorded as the instance's error.
func (d *Daemon) checkDiskBeforeStart(ctx context.Context, id string, rec *records.Record) error {
	if rec == nil || rec.Spec.DiskMiB <= 0 {
		return nil
	}
	u, err := d.disk.Measure(ctx, id, rec.Spec.DiskMiB, true)
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
	rec, found, err := d.records.Load(id)
	if err != nil || !found {
		return
	}
	rec.Error = message
	if err := d.records.Save(id, rec); err != nil {
		d.log.Error("record notice", "instance", id, "err", err)
	}
}

// watchDisk runs the periodic disk check until ctx is done or the
// returned function is called, which waits for it to stop.
func (d *Daemon) watchDisk(ctx context.Context) (stop func()) {
	return disk.Watch(ctx, d.cfg.Files.withDefaults().DiskCheckInterval, d.checkDisks)
}

// checkDisks is one pass of the periodic check over every stored
// instance, which stops each running instance over its limit.
func (d *Daemon) checkDisks(ctx context.Context) {
	recs, _, err := d.records.All()
	if err != nil {
		d.log.Error("disk check: read instance specs", "err", err)
		return
	}
	d.disk.Forget(func(id string) bool { _, ok := recs[id]; return ok })
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
	list := make([]disk.Instance, 0, len(recs))
	for id, rec := range recs {
		list = append(list, disk.Instance{ID: id, LimitMiB: rec.Spec.DiskMiB, Running: running[id]})
	}
	d.disk.Check(ctx, list, d.stopOverLimit)
}

// stopOverLimit stops a running instance found over its disk limit,
// serialized with every other operation on it, and says why.
func (d *Daemon) stopOverLimit(ctx context.Context, id string) {
	unlock, err := d.locks.lock(ctx, id)
	if err != nil {
		return
	}
	defer unlock()
	rec, found, err := d.records.Load(id)
	if err != nil || !found || rec.Spec.DiskMiB <= 0 {
		return
	}
	u := d.disk.Entry(id)
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
		"delete files to start it again", disk.FormatMiB(used), disk.FormatMiB(limit)))
}
