package docker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/runtime"
)

func TestWaitReturnsTheExitOfTheRunningContainer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.startReady(t, spec)

	waited := make(chan runtime.State, 1)
	errs := make(chan error, 1)
	go func() {
		st, err := f.rt.Wait(t.Context(), spec.InstanceID)
		errs <- err
		waited <- st
	}()
	con := f.attach(t, spec.InstanceID)
	if _, err := con.Write([]byte("exit 7\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		st := <-waited
		if err != nil || st.Running || st.ExitCode != 7 || st.FinishedAt.IsZero() {
			t.Errorf("Wait = %+v, %v; want the exit with code 7", st, err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Wait did not return after the game exited")
	}
	// On a stopped container it answers at once.
	if st, err := f.rt.Wait(t.Context(), spec.InstanceID); err != nil || st.ExitCode != 7 {
		t.Errorf("Wait on the exited container = %+v, %v", st, err)
	}
	if _, err := f.rt.Wait(t.Context(), dockertest.InstanceID(t)); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait on no container = %v, want ErrNotFound", err)
	}
}

func TestStreamStatsSamplesAboutOnceASecond(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	f.startReady(t, spec)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var samples []runtime.Stats
	began := time.Now()
	err := f.rt.StreamStats(ctx, spec.InstanceID, func(s runtime.Stats) {
		samples = append(samples, s)
		if len(samples) == 3 {
			cancel()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("StreamStats: %v", err)
	}
	if len(samples) != 3 {
		t.Fatalf("%d samples, want 3", len(samples))
	}
	if elapsed := time.Since(began); elapsed < time.Second || elapsed > 10*time.Second {
		t.Errorf("3 samples took %s, want about 2s", elapsed)
	}
	for i, s := range samples {
		if s.MemoryLimit != 64<<20 || s.MemoryBytes == 0 || s.MemoryBytes > s.MemoryLimit || s.CPUPercent < 0 || s.CPUPercent > 100 {
			t.Errorf("sample %d = %+v", i, s)
		}
	}
}

func TestStopKillsAProcessThatIgnoresItsStopCommandAndSIGTERM(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec(t)
	// SIGTERM ignored by the shell and, inherited, by sleep, which reads
	// no stdin either.
	spec.Image = dockertest.BusyboxImage(t)
	spec.Cmd = []string{"sh", "-c", `trap "" TERM; sleep 600`}
	f.ensure(t, spec)
	if err := f.rt.Start(t.Context(), spec.InstanceID); err != nil {
		t.Fatal(err)
	}
	const timeout = time.Second
	began := time.Now()
	if err := f.rt.Stop(t.Context(), spec.InstanceID, "quit", timeout); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if elapsed, least := time.Since(began), timeout+runtime.TermGrace(timeout); elapsed < least {
		t.Errorf("Stop took %s; want at least %s (the command's timeout, then SIGTERM's grace)", elapsed, least)
	}
	st, err := f.rt.Inspect(t.Context(), spec.InstanceID)
	if err != nil || st.Running || st.ExitCode != 137 {
		t.Errorf("after Stop: %+v, %v; want killed (exit code 137)", st, err)
	}
}
