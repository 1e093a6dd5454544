// Package records keeps the node daemon's record of each instance on disk,
// in <dir>/instances/<id>.json: the panel's latest spec and what the node
// made of it (applied generation, failure, install progress, last crash).
// Everything the daemon needs after a restart is here or in the runtime's
// labels, never only in memory.
package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// Record is what the node keeps on disk about one instance.
type Record struct {
	Spec nodeapi.InstanceSpec `json:"spec"`
	// Applied is the generation of the last spec the runtime accepted.
	Applied int64 `json:"applied"`
	// Error is the last failure met applying Spec; empty after a success.
	Error string `json:"error,omitempty"`
	// StoppedByNode is set while the container is down because the node
	// stopped or killed it, so that its non-zero exit code (143 after
	// SIGTERM, 137 after SIGKILL) reads as stopped, not crashed.
	StoppedByNode bool `json:"stoppedByNode,omitempty"`
	// Install is the progress of the instance's install.
	Install Install `json:"install,omitzero"`
	// PowerGeneration is the highest generation a power action carried.
	// An ensure of an older generation than it (or than Spec's) was sent
	// before that desire was recorded, and is ignored.
	PowerGeneration int64 `json:"powerGeneration,omitempty"`
	// Crash is the instance's last crash, kept for the crash-loop guard
	// and the status across daemon restarts.
	Crash *Crash `json:"crash,omitempty"`
}

// Store keeps one record per instance in its folder, as <id>.json. Its
// methods take only validated instance IDs, and every access goes through
// os.Root besides. It holds no state of its own: any number of Stores over
// one folder agree.
type Store struct {
	dir string
}

// NewStore returns the store of the folder dir, created when first used.
func NewStore(dir string) Store { return Store{dir: dir} }

// Dir is the store's folder.
func (s Store) Dir() string { return s.dir }

// recordFile is the file name of an instance's record. Callers pass only
// validated IDs, and every access goes through os.Root besides.
func recordFile(id string) string { return id + ".json" }

// Open opens the store's folder as a root, creating it when missing. Files
// that live beside the records (such as install logs) go through it.
func (s Store) Open() (*os.Root, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenRoot(s.dir)
}

// Load returns the instance's record; found is false when there is none.
func (s Store) Load(id string) (rec Record, found bool, err error) {
	root, err := s.Open()
	if err != nil {
		return rec, false, err
	}
	defer root.Close()
	return readRecord(root, id)
}

func readRecord(root *os.Root, id string) (rec Record, found bool, err error) {
	b, err := root.ReadFile(recordFile(id))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, false, fmt.Errorf("record of %s: %w", id, err)
	}
	return rec, true, nil
}

// Save writes rec unless the file already says the same, so that an
// ensure of an unchanged instance costs a read and no disk writes.
func (s Store) Save(id string, rec Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	root, err := s.Open()
	if err != nil {
		return err
	}
	defer root.Close()
	// Comparing encodings, not values, makes a nil and an empty env equal,
	// as they are once stored.
	if old, err := root.ReadFile(recordFile(id)); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return files.WriteAtomic(root, recordFile(id), 0o600, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}

// Remove deletes the instance's record; a missing one is not an error.
func (s Store) Remove(id string) error {
	root, err := s.Open()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(recordFile(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// All loads every record. A file that cannot be read is reported in bad and
// skipped, so one damaged record does not hide every other instance.
func (s Store) All() (recs map[string]Record, bad []error, err error) {
	root, err := s.Open()
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, nil, err
	}
	recs = make(map[string]Record, len(entries))
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || nodeapi.ValidateInstanceID(id) != nil {
			continue
		}
		rec, found, err := readRecord(root, id)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		if found {
			recs[id] = rec
		}
	}
	return recs, bad, nil
}

// SweepTemp removes the temporary files that a crash left mid-write.
func (s Store) SweepTemp() error {
	root, err := s.Open()
	if err != nil {
		return err
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if files.IsTempName(e.Name()) {
			if err := root.Remove(e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Install is an instance's install progress.
type Install struct {
	// Done is set once the install succeeded; it never runs again.
	Done bool `json:"done,omitempty"`
	// Running is set while an install runs. A record that says so after a
	// restart tells of an install the restart interrupted.
	Running bool `json:"running,omitempty"`
	// Error is why the latest install failed.
	Error string `json:"error,omitempty"`
	// FailedGeneration is the spec generation whose install failed; only a
	// later generation installs again.
	FailedGeneration int64 `json:"failedGeneration,omitempty"`
}

// Crash is an instance's last crash.
type Crash struct {
	// At is when the process ended (the container's finish time).
	At time.Time `json:"at"`
	// ExitCode and OOMKilled are how it ended.
	ExitCode  int  `json:"exitCode"`
	OOMKilled bool `json:"oomKilled,omitempty"`
	// Streak counts the crashes in a row, each after a run shorter than
	// the supervisor's stable run; the restart delay doubles with it.
	Streak int `json:"streak"`
	// Held is set when the crash-loop guard kept the instance down.
	Held bool `json:"held,omitempty"`
}
