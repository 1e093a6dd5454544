package fake

import (
	"bufio"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
)

func spec(id string, host int) runtime.Spec {
	return runtime.Spec{InstanceID: id, Image: "example/game:1", MemoryMiB: 256,
		Ports: []runtime.PortBinding{{Container: 25565, Host: host}}}
}

func TestContainersAreLabelledAndRecreatedOnlyWhenStoppedAndChanged(t *testing.T) {
	ctx := t.Context()
	f := New()
	st, err := f.Ensure(ctx, spec("a", 30001), nil)
	if err != nil || st.Status != "created" || st.Running {
		t.Fatalf("Ensure = %+v, %v", st, err)
	}
	c, _ := f.Container("a")
	if c.Labels[runtime.LabelInstance] != "a" || c.Labels[runtime.LabelManaged] == "" || c.Labels[runtime.LabelSpecHash] != st.SpecHash {
		t.Errorf("labels = %v", c.Labels)
	}
	if err := f.Start(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	changed := spec("a", 30001)
	changed.MemoryMiB = 512
	if again, _ := f.Ensure(ctx, changed, nil); again.ContainerID != st.ContainerID {
		t.Error("a running container was recreated")
	}
	if err := f.Stop(ctx, "a", "stop", time.Second); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.Ensure(ctx, changed, nil); again.ContainerID == st.ContainerID || f.Calls("recreate") != 1 {
		t.Error("a stopped container with a changed spec was kept")
	}
	f.FailImage("nope:1")
	if _, err := f.Ensure(ctx, runtime.Spec{InstanceID: "b", Image: "nope:1"}, nil); !errors.Is(err, runtime.ErrImage) {
		t.Errorf("Ensure of a missing image = %v, want ErrImage", err)
	}
	list, _ := f.List(ctx)
	if len(list) != 1 || list[0].InstanceID != "a" {
		t.Errorf("List = %+v", list)
	}
}

func TestExitCodesAreDockers(t *testing.T) {
	ctx := t.Context()
	f := New()
	for i, tc := range []struct {
		end  func(id string) error
		code int
	}{
		{func(id string) error { return f.Stop(ctx, id, "stop", time.Minute) }, 143},
		{func(id string) error { return f.Stop(ctx, id, "^SIGINT", time.Minute) }, 130},
		{func(id string) error { return f.Kill(ctx, id, "") }, 137},
		{func(id string) error { f.Exit(id, 3, false); return nil }, 3},
	} {
		id := string(rune('a' + i))
		if _, err := f.Ensure(ctx, spec(id, 30001), nil); err != nil {
			t.Fatal(err)
		}
		if err := f.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := tc.end(id); err != nil {
			t.Fatal(err)
		}
		st, err := f.Wait(ctx, id)
		if err != nil || st.Running || st.ExitCode != tc.code || st.FinishedAt.IsZero() {
			t.Errorf("case %d: Wait = %+v, %v; want exit code %d", i, st, err, tc.code)
		}
	}
	if c, _ := f.Container("a"); !slices.Equal(c.Stdin, []string{"stop"}) {
		t.Errorf("stdin = %q, want the stop command", c.Stdin)
	}
	if err := f.Kill(ctx, "a", "SIGBOGUS"); err == nil {
		t.Error("an unknown signal was sent")
	}
}

func TestStartRefusesAHostPortInUse(t *testing.T) {
	ctx := t.Context()
	f := New()
	for _, id := range []string{"a", "b"} {
		if _, err := f.Ensure(ctx, spec(id, 30001), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Start(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx, "b"); err == nil || !strings.Contains(err.Error(), "port is already allocated") {
		t.Errorf("second start on port 30001 = %v", err)
	}
}

func TestConsoleAttachedBeforeStartSeesOutputAndWritesStdin(t *testing.T) {
	ctx := t.Context()
	f := New()
	if _, err := f.Ensure(ctx, spec("a", 30001), nil); err != nil {
		t.Fatal(err)
	}
	con, err := f.Attach(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	if f.Print("a", "before start\n") {
		t.Error("a container that does not run printed")
	}
	if err := f.Start(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(con.Output())
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}()
	f.Print("a", "Server ready\nsecond\n")
	if _, err := con.Write([]byte("say hi\n")); err != nil {
		t.Fatal(err)
	}
	f.Exit("a", 0, false)
	<-done // the output ends with the process
	if !slices.Equal(lines, []string{"Server ready", "second"}) {
		t.Errorf("output = %q", lines)
	}
	c, _ := f.Container("a")
	if !slices.Equal(c.Stdin, []string{"say hi"}) || !slices.Equal(c.Logs, []string{"Server ready", "second"}) {
		t.Errorf("stdin %q, logs %q", c.Stdin, c.Logs)
	}
	if logs, _ := f.Logs(ctx, "a", 1); !slices.Equal(logs, []string{"second"}) {
		t.Errorf("Logs tail 1 = %q", logs)
	}
}

func TestRemoveCancelsTheInstallAndWaitersSeeNotFound(t *testing.T) {
	ctx := t.Context()
	f := New()
	started := make(chan struct{})
	f.SetInstall(func(ctx context.Context, _ runtime.InstallJob, _ io.Writer) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	installed := make(chan error, 1)
	go func() {
		_, err := f.RunInstall(ctx, runtime.InstallJob{InstanceID: "a"}, io.Discard)
		installed <- err
	}()
	<-started
	if _, err := f.Ensure(ctx, spec("a", 30001), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := f.Wait(ctx, "a")
		waited <- err
	}()
	if err := f.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := <-installed; !errors.Is(err, context.Canceled) {
		t.Errorf("install after Remove = %v, want canceled", err)
	}
	if err := <-waited; !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait after Remove = %v, want ErrNotFound", err)
	}
	if jobs := f.InstallJobs(); len(jobs) != 1 || jobs[0].InstanceID != "a" {
		t.Errorf("install jobs = %+v", jobs)
	}
}

func TestConcurrentCallsAreSafe(t *testing.T) {
	ctx := t.Context()
	f := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			id := string(rune('a' + g))
			for range 50 {
				_, _ = f.Ensure(ctx, spec(id, 30000+g), nil)
				_ = f.Start(ctx, id)
				f.Print(id, "line\n")
				_, _ = f.List(ctx)
				_ = f.Stop(ctx, id, "", time.Second)
			}
		})
	}
	wg.Wait()
	if n := f.Calls("Start"); n != 400 {
		t.Errorf("Start counted %d times, want 400", n)
	}
}
