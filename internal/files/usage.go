package files

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// MiB is 2^20 bytes, the unit of disk limits.
const MiB = 1 << 20

// BlockSize is the least the disk limit counts a file, folder or link
// for: the usual filesystem block. Counting bytes alone, an archive of
// 10,000 empty files cost nothing, though each takes a block and an inode.
const BlockSize = 4096

// Usage is the running count of the disk space one data folder takes, as
// footprint counts it, and the folder's limit. It is set by a walk
// (Measure) and then adjusted by every write made through this package, so
// a request never walks the tree. What the game process writes itself is
// seen at the next walk. A Usage is safe for concurrent use.
type Usage struct {
	mu       sync.Mutex
	used     int64
	limit    int64
	measured bool
}

// Limit returns the limit in bytes; 0 means unlimited.
func (u *Usage) Limit() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.limit
}

// SetLimit sets the limit in bytes; 0 means unlimited.
func (u *Usage) SetLimit(bytes int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.limit = max(bytes, 0)
}

// Used returns the bytes counted, and whether a walk has measured them.
func (u *Usage) Used() (used int64, measured bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.used, u.measured
}

// Set records the result of a walk.
func (u *Usage) Set(bytes int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.used, u.measured = max(bytes, 0), true
}

// Over reports whether the count is past a limit, with both values.
func (u *Usage) Over() (over bool, used, limit int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.limit > 0 && u.used > u.limit, u.used, u.limit
}

// Check refuses, with OverLimit, adding n bytes when that would pass the
// limit. It reserves nothing: it lets a caller that knows a size refuse
// before it reads a byte.
func (u *Usage) Check(field string, n int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.checkLocked(field, n)
}

func (u *Usage) checkLocked(field string, n int64) error {
	if n <= 0 || u.limit <= 0 || u.used+n <= u.limit {
		return nil
	}
	return &Error{Kind: OverLimit, Field: field, Msg: fmt.Sprintf(
		"writing %s would pass the instance's disk limit of %s (%s used)",
		FormatBytes(n), FormatBytes(u.limit), FormatBytes(u.used))}
}

// Reserve counts n more bytes, or refuses with OverLimit when they would
// pass the limit.
func (u *Usage) Reserve(field string, n int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.checkLocked(field, n); err != nil {
		return err
	}
	u.used += n
	return nil
}

// Add counts n more bytes (fewer when negative) without checking the
// limit: for what was freed, or already written.
func (u *Usage) Add(n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.used = max(u.used+n, 0)
}

// FormatBytes writes n in MiB (or bytes, below one MiB) for messages.
func FormatBytes(n int64) string {
	if n < MiB && n > -MiB {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/MiB)
}

// blocks is n bytes rounded up to whole blocks, and at least one block:
// what a file of n bytes is counted for before it is written.
func blocks(n int64) int64 {
	return max((n+BlockSize-1)/BlockSize, 1) * BlockSize
}

// footprint is what the file, folder or link info describes is counted
// for: its size in whole blocks, at least one, or the space the file
// system allocated it when that is more (a file preallocated past its
// end).
func footprint(info fs.FileInfo) int64 {
	n := blocks(info.Size())
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		n = max(n, st.Blocks*512)
	}
	return n
}

// Measure walks the folder and returns the footprint of everything in it:
// each file, folder and link, the folder itself left out. It does not
// follow symbolic links, and it stops when ctx is done.
func Measure(ctx context.Context, root *os.Root) (int64, error) {
	var total int64
	err := fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			// A file the game removed while the walk ran is not a failure.
			if os.IsNotExist(err) && name != "." {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		total += footprint(info)
		return nil
	})
	return total, err
}
