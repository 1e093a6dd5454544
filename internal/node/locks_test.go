package node

import (
	"context"
	"errors"
	"testing"
)

func TestInstanceLockWaitEndsWithContext(t *testing.T) {
	var l instanceLocks
	unlock, err := l.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.lock(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock with a canceled context while held: %v", err)
	}
	// Another instance is free all along.
	unlockB, err := l.lock(context.Background(), "b")
	if err != nil {
		t.Fatalf("lock of another instance: %v", err)
	}
	unlockB()
	unlock()
	if len(l.m) != 0 {
		t.Errorf("%d lock entries left after every holder and waiter left", len(l.m))
	}
	if _, err := l.lock(context.Background(), "a"); err != nil {
		t.Errorf("lock after release: %v", err)
	}
}
