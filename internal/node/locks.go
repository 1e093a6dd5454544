package node

import (
	"context"
	"sync"
)

// instanceLocks serializes the operations on one instance (ensure, power,
// remove) while different instances proceed in parallel. Waiting honours
// the request's context, so a caller that gave up stops queueing.
type instanceLocks struct {
	mu sync.Mutex
	m  map[string]*instanceLock
}

type instanceLock struct {
	// sem holds one token while an operation runs.
	sem chan struct{}
	// refs counts the holder and the waiters; the entry is dropped at zero
	// so the map does not grow with every instance ever seen.
	refs int
}

// lock waits for the instance's turn and returns the function that ends it.
func (l *instanceLocks) lock(ctx context.Context, id string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*instanceLock)
	}
	e := l.m[id]
	if e == nil {
		e = &instanceLock{sem: make(chan struct{}, 1)}
		l.m[id] = e
	}
	e.refs++
	l.mu.Unlock()

	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		l.release(id, e, false)
		return nil, ctx.Err()
	}
	return func() { l.release(id, e, true) }, nil
}

func (l *instanceLocks) release(id string, e *instanceLock, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held {
		<-e.sem
	}
	e.refs--
	if e.refs == 0 {
		delete(l.m, id)
	}
}
