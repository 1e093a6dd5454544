package install

import (
	"context"
	"sync"
)

// Runs runs at most one install per instance, each in a goroutine of
// its own that Close cancels and waits for. The zero value is ready.
type Runs struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	runs   map[string]*run
	wg     sync.WaitGroup
}

type run struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs fn for id in the background unless an install of id runs
// already or the daemon is closing; it reports whether it started fn.
func (s *Runs) Start(id string, fn func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.runs[id] != nil {
		return false
	}
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.runs = map[string]*run{}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	run := &run{cancel: cancel, done: make(chan struct{})}
	s.runs[id] = run
	s.wg.Go(func() {
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.runs, id)
			s.mu.Unlock()
			close(run.done)
		}()
		fn(ctx)
	})
	return true
}

// Running reports whether an install of id runs.
func (s *Runs) Running(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[id] != nil
}

// Stop cancels the install of id, if one runs, and waits for it to end.
func (s *Runs) Stop(id string) {
	s.mu.Lock()
	run := s.runs[id]
	s.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

// Close cancels every install, refuses new ones, and waits for all to end.
func (s *Runs) Close() {
	s.mu.Lock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
