package store

import (
	"context"
	"fmt"
)

// CountNodesByStatus returns how many nodes have each status (Online,
// Offline, Unconfigured); a status no node has is absent.
func (s *Store) CountNodesByStatus(ctx context.Context) (map[string]int64, error) {
	return s.countBy(ctx, "count nodes by status", `SELECT status, COUNT(*) FROM nodes GROUP BY status`)
}

// CountInstancesByState returns how many instances are in each internal
// state (INSTALLING, READY, FAILED); a state no instance is in is absent.
func (s *Store) CountInstancesByState(ctx context.Context) (map[string]int64, error) {
	return s.countBy(ctx, "count instances by state", `SELECT internal_state, COUNT(*) FROM instances GROUP BY internal_state`)
}

// countBy runs a query of (key, count) rows into a map.
func (s *Store) countBy(ctx context.Context, what, query string) (map[string]int64, error) {
	rows, err := s.query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var key string
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		counts[key] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return counts, nil
}
