package node

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// extractWindow is the span over which extractions are counted.
const extractWindow = time.Minute

// extractLimiter caps the archive extractions of each instance: at most
// max in any extractWindow. It keeps the times of the latest extractions
// of each instance, so that a refusal can say when the next is allowed.
type extractLimiter struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	times map[string][]time.Time
}

func newExtractLimiter(max int, now func() time.Time) *extractLimiter {
	return &extractLimiter{max: max, now: now, times: map[string][]time.Time{}}
}

// take counts one extraction of id now, unless it had max already in the
// window; then retry is how long until the oldest leaves the window.
func (l *extractLimiter) take(id string) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	times := l.times[id]
	kept := 0
	for kept < len(times) && !times[kept].After(now.Add(-extractWindow)) {
		kept++
	}
	times = times[kept:]
	if len(times) >= l.max {
		l.times[id] = times
		return false, times[0].Add(extractWindow).Sub(now)
	}
	l.times[id] = append(times, now)
	return true, 0
}

// forget drops what the limiter knows of id, once it is removed.
func (l *extractLimiter) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.times, id)
}

// allowExtract takes an extraction of id from the limiter, or answers 429
// with the seconds to wait in Retry-After.
func (d *Daemon) allowExtract(w http.ResponseWriter, id string) error {
	ok, retry := d.extracts.take(id)
	if ok {
		return nil
	}
	secs := int((retry + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return &apiError{http.StatusTooManyRequests, fmt.Sprintf(
		"too many archive extractions for this instance: at most %d a minute; try again in %d s", d.extracts.max, secs)}
}
