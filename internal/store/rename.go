package store

import (
	"context"
	"fmt"
	"time"
)

// RenameInstance sets an instance's name and reads it back. A name lives
// only on the panel: the node knows instances by id, so the generation is
// not bumped and nothing is carried to the node.
func (s *Store) RenameInstance(ctx context.Context, id, name string) (Instance, error) {
	res, err := s.execFor(ctx, []string{id}, `UPDATE instances SET name = ?, updated_at = ? WHERE id = ?`, name, millis(time.Now()), id)
	if err != nil {
		return Instance{}, fmt.Errorf("rename instance %s: %w", id, err)
	}
	if n, err := rowsChanged(res); err != nil || n == 0 {
		return Instance{}, notFoundIfNone(err, "Instance")
	}
	return s.InstanceByID(ctx, id)
}
