package store

import (
	"context"
	"fmt"
	"time"
)

// Lease says which panel drives a node: the one whose reconciler talks to
// it. Holder is empty when no panel does.
type Lease struct {
	// Holder is the driving panel's ID, and Address where it serves.
	Holder  string
	Address string
	// Since is when Holder took the node; Expires when the lease runs out
	// unless renewed.
	Since   time.Time
	Expires time.Time
}

// Live reports whether the lease holds at now.
func (l Lease) Live(now time.Time) bool {
	return l.Holder != "" && now.Before(l.Expires)
}

// ClaimNodes renews the leases holder has and takes every node whose lease
// is free or ran out, each until now+ttl; it returns the IDs of the nodes
// holder drives now. Two panels claiming at once never both get a node:
// the take is one guarded UPDATE, and the database lets one of two
// concurrent updates of a row through, the other seeing its result.
//
// Renewing changes nothing a list shows, so it leaves Version alone; a
// take does not.
func (s *Store) ClaimNodes(ctx context.Context, holder, address string, now time.Time, ttl time.Duration) ([]string, error) {
	until := millis(now.Add(ttl))
	if _, err := s.execQuiet(ctx, `UPDATE nodes SET lease_expires = ? WHERE lease_holder = ?`, until, holder); err != nil {
		return nil, fmt.Errorf("renew node leases: %w", err)
	}
	if _, err := s.execFor(ctx, []string{}, `UPDATE nodes SET lease_holder = ?, lease_address = ?, lease_since = ?, lease_expires = ?
		WHERE lease_holder = '' OR lease_expires < ?`, holder, address, millis(now), until, millis(now)); err != nil {
		return nil, fmt.Errorf("take node leases: %w", err)
	}
	rows, err := s.write.QueryContext(ctx, s.q(`SELECT id FROM nodes WHERE lease_holder = ?`), holder)
	if err != nil {
		return nil, fmt.Errorf("held node leases: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("held node leases: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held node leases: %w", err)
	}
	return ids, nil
}

// ReleaseNodes gives up holder's leases, so that another panel takes its
// nodes at its next claim instead of waiting for them to run out: a panel
// that shuts down calls it.
func (s *Store) ReleaseNodes(ctx context.Context, holder string) error {
	if _, err := s.execFor(ctx, []string{}, `UPDATE nodes SET lease_holder = '', lease_address = '', lease_since = 0, lease_expires = 0
		WHERE lease_holder = ?`, holder); err != nil {
		return fmt.Errorf("release node leases: %w", err)
	}
	return nil
}
