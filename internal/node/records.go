package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// record is what the node keeps on disk about one instance: the panel's
// latest spec and what the node made of it. Everything the daemon needs
// after a restart is here or in Docker's labels, never only in memory.
type record struct {
	Spec nodeapi.InstanceSpec `json:"spec"`
	// Applied is the generation of the last spec the runtime accepted.
	Applied int64 `json:"applied"`
	// Error is the last failure met applying Spec; empty after a success.
	Error string `json:"error,omitempty"`
	// StoppedByNode is set while the container is down because the node
	// stopped or killed it, so that its non-zero exit code (143 after
	// SIGTERM, 137 after SIGKILL) reads as stopped, not crashed.
	StoppedByNode bool `json:"stoppedByNode,omitempty"`
	// Install is the progress of the instance's install (install.go).
	Install installState `json:"install,omitzero"`
	// PowerGeneration is the highest generation a power action carried.
	// An ensure of an older generation than it (or than Spec's) was sent
	// before that desire was recorded, and is ignored (supervisor.go).
	PowerGeneration int64 `json:"powerGeneration,omitempty"`
	// Crash is the instance's last crash, kept for the crash-loop guard
	// and the status across daemon restarts (supervisor.go).
	Crash *crashRecord `json:"crash,omitempty"`
}

// records stores one record per instance in <dir>/instances/<id>.json.
type records struct {
	dir string
}

// recordFile is the file name of an instance's record. Callers pass only
// validated IDs, and every access goes through os.Root besides.
func recordFile(id string) string { return id + ".json" }

func (s records) open() (*os.Root, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenRoot(s.dir)
}

// load returns the instance's record; found is false when there is none.
func (s records) load(id string) (rec record, found bool, err error) {
	root, err := s.open()
	if err != nil {
		return rec, false, err
	}
	defer root.Close()
	return readRecord(root, id)
}

func readRecord(root *os.Root, id string) (rec record, found bool, err error) {
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

// save writes rec unless the file already says the same, so that an
// ensure of an unchanged instance costs a read and no disk writes.
func (s records) save(id string, rec record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	root, err := s.open()
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

// remove deletes the instance's record; a missing one is not an error.
func (s records) remove(id string) error {
	root, err := s.open()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(recordFile(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// all loads every record. A file that cannot be read is reported in bad and
// skipped, so one damaged record does not hide every other instance.
func (s records) all() (recs map[string]record, bad []error, err error) {
	root, err := s.open()
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, nil, err
	}
	recs = make(map[string]record, len(entries))
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

// sweepTemp removes temporary files that a crash left mid-write.
func (s records) sweepTemp() error {
	root, err := s.open()
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
