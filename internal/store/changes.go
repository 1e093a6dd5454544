package store

import "sync"

// changeLog remembers, for the latest writes, which instances each one
// changed, so that a cache of the instance list can re-read those rows
// after a write instead of the whole list. A write that does not say
// counts as changing anything at all: a forgotten write path costs a
// rebuild, never a stale row.
type changeLog struct {
	mu sync.Mutex
	// recent holds the latest writes, oldest first.
	recent []change
}

// change is one write: the Version it made, and the instances it changed;
// nil when it may have changed any.
type change struct {
	version   uint64
	instances []string
}

// changeLogSize bounds the log. A reader that fell further behind than
// this many writes rebuilds whatever it caches.
const changeLogSize = 1024

// bump counts a write, which changed the instances listed: none when the
// list is empty but not nil, any when it is nil. The version moves under
// the log's lock, so that whoever sees a Version finds its write logged.
func (s *Store) bump(instances []string) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	v := s.version.Add(1)
	if len(s.changes.recent) >= changeLogSize {
		s.changes.recent = append(s.changes.recent[:0], s.changes.recent[changeLogSize/2:]...)
	}
	s.changes.recent = append(s.changes.recent, change{version: v, instances: instances})
}

// InstancesChangedSince returns the ids of the instances that the writes
// after Version since changed, and the Version it read them at. ok is
// false when that is not known: a write that may have changed any
// instance, or one older than the log. An id may be listed twice, and
// the instance may since have been deleted.
func (s *Store) InstancesChangedSince(since uint64) (ids []string, now uint64, ok bool) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	now = s.version.Load()
	if now < since {
		return nil, now, false
	}
	// The log must hold each write since, one entry per Version: a
	// Version moved by anything but bump is a write it cannot explain.
	want := since + 1
	for _, c := range s.changes.recent {
		if c.version < want {
			continue
		}
		if c.version != want || c.instances == nil {
			return nil, now, false
		}
		ids = append(ids, c.instances...)
		want++
	}
	return ids, now, want == now+1
}
