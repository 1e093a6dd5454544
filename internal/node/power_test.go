package node

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/runtime/fake"
)

func TestPowerStartRefusedWhileSuspended(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	spec := validSpec("locked")
	spec.Suspended = true
	ensureOK(t, d, spec)
	rt.ResetCalls()

	for _, action := range []string{nodeapi.ActionStart, nodeapi.ActionRestart} {
		w := power(t, d, "locked", action)
		if w.Code != http.StatusConflict {
			t.Fatalf("%s: %d, want 409", action, w.Code)
		}
		if got := strings.TrimSpace(w.Body.String()); got != `{"error":"instance is suspended","kind":"conflict"}` {
			t.Errorf("%s body = %s", action, got)
		}
	}
	if n := rt.Calls("Start") + rt.Calls("Ensure") + rt.Calls("Stop"); n != 0 {
		t.Errorf("a refused start reached the runtime %d times", n)
	}
	// Stopping a suspended instance is always allowed.
	if w := power(t, d, "locked", nodeapi.ActionStop); w.Code != http.StatusOK {
		t.Errorf("stop: %d %s", w.Code, w.Body)
	}
}

func TestPowerActions(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("p"))

	w := power(t, d, "p", nodeapi.ActionStop)
	st := decode[nodeapi.InstanceStatus](t, w)
	if w.Code != http.StatusOK || st.Running || st.Status != nodeapi.StatusStopped {
		t.Fatalf("stop: %d %+v", w.Code, st)
	}
	if cmd, timeout := rt.LastStop(); cmd != "stop" || timeout != d.cfg.StopTimeout {
		t.Errorf("stop used %q %v", cmd, timeout)
	}

	st = decode[nodeapi.InstanceStatus](t, power(t, d, "p", nodeapi.ActionStart))
	if !st.Running || st.Status != nodeapi.StatusRunning {
		t.Fatalf("start: %+v", st)
	}

	rt.ResetCalls()
	st = decode[nodeapi.InstanceStatus](t, power(t, d, "p", nodeapi.ActionRestart))
	if !st.Running || rt.Calls("Stop") != 1 || rt.Calls("Start") != 1 {
		t.Fatalf("restart: %+v, stops %d, starts %d", st, rt.Calls("Stop"), rt.Calls("Start"))
	}

	st = decode[nodeapi.InstanceStatus](t, power(t, d, "p", nodeapi.ActionKill))
	if st.Running || rt.LastKillSignal() != "SIGKILL" {
		t.Fatalf("kill: %+v with signal %q", st, rt.LastKillSignal())
	}
}

func TestPowerStartRecreatesRemovedContainer(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpec("lost"))
	// Someone ran `docker rm -f` behind the node's back.
	rt.Remove(context.Background(), "lost")

	st := decode[nodeapi.InstanceStatus](t, power(t, d, "lost", nodeapi.ActionStart))
	if !st.Running || st.ContainerID == "" {
		t.Fatalf("start after removal: %+v", st)
	}
}

func TestPowerRejectsBadRequests(t *testing.T) {
	d := newTestDaemon(t, fake.New())
	ensureOK(t, d, validSpec("p"))
	for _, body := range []string{`{"action":"pause"}`, `{"action":""}`, `{}`, `{"action":1}`} {
		w := call(t, d, http.MethodPost, "/v1/instances/p/power", body)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorText(t, w), "action") {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
	if w := power(t, d, "nobody", nodeapi.ActionStart); w.Code != http.StatusNotFound {
		t.Errorf("power on unknown instance: %d, want 404", w.Code)
	}
}

// TestPowerActionsOnOneInstanceAreSerialized holds one instance's stop
// inside the runtime and checks that a second action on it waits its turn
// while an action on another instance goes through.
func TestPowerActionsOnOneInstanceAreSerialized(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ensureOK(t, d, validSpecAt("one", 31001))
	ensureOK(t, d, validSpecAt("two", 31003))

	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	rt.SetHook(func(method, id string) {
		if id == "one" && method == "Stop" {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	})

	first := make(chan int)
	go func() { first <- power(t, d, "one", nodeapi.ActionStop).Code }()
	<-entered
	if got := getStatus(t, d, "one").Status; got != nodeapi.StatusStopping {
		t.Errorf("status during stop = %q, want stopping", got)
	}

	second := make(chan int)
	go func() { second <- power(t, d, "one", nodeapi.ActionRestart).Code }()
	waitFor(t, "the second action to queue on the instance lock", func() bool {
		d.locks.mu.Lock()
		defer d.locks.mu.Unlock()
		e := d.locks.m["one"]
		return e != nil && e.refs == 2
	})

	// Another instance is not blocked by the held lock.
	if w := power(t, d, "two", nodeapi.ActionStop); w.Code != http.StatusOK {
		t.Fatalf("power on another instance: %d %s", w.Code, w.Body)
	}
	if n := rt.Calls("Start"); n != 2 {
		t.Errorf("queued restart reached the runtime early: %d Start calls", n)
	}

	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first action: %d", code)
	}
	if code := <-second; code != http.StatusOK {
		t.Errorf("second action: %d", code)
	}
	if n := rt.Overlaps("one"); n != 0 {
		t.Errorf("%d runtime calls on one instance overlapped", n)
	}
	waitFor(t, "the lock entry to be dropped", func() bool {
		d.locks.mu.Lock()
		defer d.locks.mu.Unlock()
		return len(d.locks.m) == 0
	})
}

// TestConcurrentPowerActionsNeverOverlap hammers two instances with
// actions from many goroutines; run with -race.
func TestConcurrentPowerActionsNeverOverlap(t *testing.T) {
	rt := fake.New()
	d := newTestDaemon(t, rt)
	ids := []string{"left", "right"}
	for i, id := range ids {
		ensureOK(t, d, validSpecAt(id, 31001+2*i))
	}
	actions := []string{nodeapi.ActionStart, nodeapi.ActionStop, nodeapi.ActionRestart, nodeapi.ActionKill}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				id := ids[(g+i)%len(ids)]
				action := actions[(g*7+i)%len(actions)]
				if code := power(t, d, id, action).Code; code != http.StatusOK {
					t.Errorf("%s %s: %d", action, id, code)
				}
				if i%5 == 0 {
					spec := validSpecAt(id, 31001+2*((g+i)%len(ids)))
					spec.Generation = int64(i)
					if w := call(t, d, http.MethodPut, "/v1/instances/"+id, spec); w.Code != http.StatusOK {
						t.Errorf("ensure %s: %d %s", id, w.Code, w.Body)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if n := rt.Overlaps(id); n != 0 {
			t.Errorf("%s: %d runtime calls overlapped", id, n)
		}
	}
}
