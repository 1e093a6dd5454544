package node

import (
	"context"
	"io"

	"github.com/berth-dev/berth/internal/runtime"
)

// fakeInstall plays an install script for the fake runtime.
type fakeInstall func(ctx context.Context, job runtime.InstallJob, output io.Writer) (int, error)

// RunInstall counts the call, remembers the job and runs f.install, or
// prints a line and succeeds when there is none.
func (f *fakeRuntime) RunInstall(ctx context.Context, job runtime.InstallJob, output io.Writer) (int, error) {
	f.mu.Lock()
	f.calls["RunInstall"]++
	f.installJobs = append(f.installJobs, job)
	fn := f.install
	f.mu.Unlock()
	if fn == nil {
		_, err := io.WriteString(output, "fake install ran\n")
		return 0, err
	}
	return fn(ctx, job, output)
}

// setInstall makes fn play every later install.
func (f *fakeRuntime) setInstall(fn fakeInstall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.install = fn
}

// lastInstallJob returns the job of the latest RunInstall.
func (f *fakeRuntime) lastInstallJob() (runtime.InstallJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.installJobs) == 0 {
		return runtime.InstallJob{}, false
	}
	return f.installJobs[len(f.installJobs)-1], true
}
