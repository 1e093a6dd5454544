package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// Attach connects to the container's console. Containers run with a TTY, so
// the output is one raw stream, not Docker's multiplexed frames.
func (r *Runtime) Attach(ctx context.Context, id string) (runtime.Console, error) {
	// The attach endpoint answers a missing container with a failed
	// protocol upgrade, not a typed not-found error, so look first.
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	res, err := r.cli.ContainerAttach(ctx, st.ContainerID, client.ContainerAttachOptions{
		Stream: true,
		Stdin:  true,
		Stdout: true,
		Stderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	return &console{conn: res.HijackedResponse}, nil
}

// console is an attached connection to one container.
type console struct {
	conn client.HijackedResponse
}

func (c *console) Output() io.Reader           { return c.conn.Reader }
func (c *console) Write(p []byte) (int, error) { return c.conn.Conn.Write(p) }

func (c *console) Close() error {
	c.conn.Close()
	return nil
}

// writeStdin types input on the container's console and detaches. The
// container's stdin stays open for the next writer.
func (r *Runtime) writeStdin(ctx context.Context, containerID, input string) error {
	res, err := r.cli.ContainerAttach(ctx, containerID, client.ContainerAttachOptions{Stream: true, Stdin: true})
	if err != nil {
		return fmt.Errorf("attach stdin: %w", err)
	}
	defer res.Close()
	if _, err := io.WriteString(res.Conn, input); err != nil {
		return fmt.Errorf("write stdin: %w", err)
	}
	return nil
}

// Logs returns up to tail of the most recent output lines; tail <= 0 means
// all that the bounded log files still hold.
func (r *Runtime) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "all"}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := r.cli.ContainerLogs(ctx, ContainerName(id), opts)
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", id, notFound(err))
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", id, err)
	}
	return splitLines(b), nil
}

// splitLines cuts TTY output into lines, dropping the carriage returns the
// terminal adds before each newline.
func splitLines(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}
