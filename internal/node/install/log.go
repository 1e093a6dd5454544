package install

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/berth-dev/berth/internal/node/records"
)

// Logs keeps the instances' install logs, <id>.install.log beside their
// records, outside the data folders, where a game server cannot rewrite
// them.
type Logs struct {
	store records.Store
}

// NewLogs returns the install logs kept beside the records of store.
func NewLogs(store records.Store) Logs { return Logs{store: store} }

// logFile is the file name of an instance's install log. Callers pass only validated IDs.
func logFile(id string) string { return id + ".install.log" }

// create starts the instance's install log afresh.
func (l Logs) create(id string) (*os.File, error) {
	root, err := l.store.Open()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.OpenFile(logFile(id), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

// Tail returns the last tail lines of the instance's install
// log, and whether there is one.
func (l Logs) Tail(id string, tail int) ([]string, bool, error) {
	root, err := l.store.Open()
	if err != nil {
		return nil, false, err
	}
	defer root.Close()
	b, err := root.ReadFile(logFile(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return lastLines(b, tail), true, nil
}

// failureTail is the end of the install log as a failure reason:
// installErrorLines lines at most, and no more than installErrorBytes.
func (l Logs) failureTail(id string, n int) string {
	lines, _, err := l.Tail(id, n)
	if err != nil {
		return "(install log unreadable: " + err.Error() + ")"
	}
	s := strings.Join(lines, "\n")
	if len(s) > installErrorBytes {
		s = "..." + s[len(s)-installErrorBytes:]
	}
	return s
}

// Remove deletes the instance's install log, if any.
func (l Logs) Remove(id string) error {
	root, err := l.store.Open()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(logFile(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// lastLines splits b into lines and returns the last n. A carriage return
// inside a line (a progress bar redrawing itself) keeps only what follows
// it, as a terminal would show.
func lastLines(b []byte, n int) []string {
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 || n <= 0 {
		return []string{}
	}
	raw := bytes.Split(b, []byte("\n"))
	raw = raw[max(len(raw)-n, 0):]
	lines := make([]string, len(raw))
	for i, l := range raw {
		l = bytes.TrimRight(l, "\r")
		if j := bytes.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = string(l)
	}
	return lines
}

// cappedWriter writes up to left bytes to w and then drops the rest, once
// saying so, without failing the writer: a chatty installer must not fill
// the node's disk, nor fail because its log is full.
type cappedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	left int64
	cut  bool
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		if !c.cut {
			c.cut = true
			_, _ = io.WriteString(c.w, "\n[berth] install log is full; further output is dropped\n")
		}
		return len(p), nil
	}
	keep := p[:min(int64(len(p)), c.left)]
	n, err := c.w.Write(keep)
	c.left -= int64(n)
	if err != nil {
		return n, err
	}
	return len(p), nil
}
