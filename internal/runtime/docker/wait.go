package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// Wait blocks until the instance's container is not running, then reports
// its final state. The engine's wait answer carries only the exit code, so
// the container is inspected afterwards for the OOM flag and the times.
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.State, error) {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return runtime.State{}, fmt.Errorf("wait %s: %w", id, err)
	}
	if st.Running {
		// Waiting by ID, not by name: a container recreated under the same
		// name is another run, not the end of this one.
		wait := r.cli.ContainerWait(ctx, st.ContainerID, client.ContainerWaitOptions{
			Condition: container.WaitConditionNotRunning,
		})
		select {
		case <-wait.Result:
		case err := <-wait.Error:
			if ctx.Err() != nil {
				return runtime.State{}, ctx.Err()
			}
			return runtime.State{}, fmt.Errorf("wait %s: %w", id, notFound(err))
		}
	}
	res, err := r.cli.ContainerInspect(ctx, st.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		return runtime.State{}, fmt.Errorf("wait %s: %w", id, notFound(err))
	}
	return stateOf(res.Container), nil
}

// StreamStats reads the engine's stats stream, one sample a second, and
// hands each to fn until ctx ends or the stream does (the container
// stopped). The first sample has no previous reading, so its CPU is 0.
func (r *Runtime) StreamStats(ctx context.Context, id string, fn func(runtime.Stats)) error {
	res, err := r.cli.ContainerStats(ctx, ContainerName(id), client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return fmt.Errorf("stats %s: %w", id, notFound(err))
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stats %s: decode: %w", id, err)
		}
		if s.Read.IsZero() || s.PidsStats.Current == 0 && s.MemoryStats.Usage == 0 {
			// A stopped container streams empty samples; it has nothing
			// more to say.
			return nil
		}
		fn(statsOf(s))
	}
}
