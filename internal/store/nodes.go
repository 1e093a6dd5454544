package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// Node status words, as the original system shows them.
const (
	NodeUnconfigured = "Unconfigured"
	NodeOnline       = "Online"
	NodeOffline      = "Offline"
)

// Node is a machine that runs instances. Token is the bearer token the
// panel presents to the node; it never appears in an API response.
type Node struct {
	ID        string
	Name      string
	Tags      string
	RAMMiB    int64
	DiskMiB   int64
	Processor string
	Address   string
	Port      int
	// Scheme is http or https, the way the panel reaches the node.
	Scheme string
	Status string
	// CPUs is the number of CPU cores the node last reported; 0 until it
	// reports.
	CPUs      int
	LastSeen  time.Time
	Version   string
	Token     string
	CreatedAt time.Time
	// Lease is which panel drives the node.
	Lease Lease
	// PanelTokenHash is the SHA-256 of the token the node calls the panel
	// with; empty for a node configured before there was one.
	PanelTokenHash string
	// SFTPPort is the port the node serves SFTP on, as its health last
	// said; 0 when it serves none.
	SFTPPort int
}

const nodeColumns = `id, name, tags, ram_mib, disk_mib, processor, address, port, scheme, status, last_seen, version, token,
	created_at, cpus, lease_holder, lease_address, lease_since, lease_expires, panel_token_hash, sftp_port`

func scanNode(row scanner) (Node, error) {
	var n Node
	var seen, created, since, expires int64
	err := row.Scan(&n.ID, &n.Name, &n.Tags, &n.RAMMiB, &n.DiskMiB, &n.Processor, &n.Address, &n.Port,
		&n.Scheme, &n.Status, &seen, &n.Version, &n.Token, &created, &n.CPUs,
		&n.Lease.Holder, &n.Lease.Address, &since, &expires, &n.PanelTokenHash, &n.SFTPPort)
	n.LastSeen, n.CreatedAt = fromMillis(seen), fromMillis(created)
	n.Lease.Since, n.Lease.Expires = fromMillis(since), fromMillis(expires)
	return n, err
}

// CreateNode stores n with the SHA-256 of its one-time configure key, which
// stops working at expires.
func (s *Store) CreateNode(ctx context.Context, n Node, configureKeyHash string, expires time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO nodes (id, name, tags, ram_mib, disk_mib, processor, address, port, scheme, status,
		configure_key_hash, configure_expires, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.Name, n.Tags, n.RAMMiB, n.DiskMiB, n.Processor, n.Address, n.Port, n.Scheme, n.Status,
		configureKeyHash, millis(expires), millis(n.CreatedAt))
	if err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	return nil
}

// EnsureLocalNode returns the node `berth up` runs on its own machine,
// first storing n as that node, configured with n.Token, when there is
// none. A unique index allows one such node, and the single INSERT either
// stores it whole or not at all: a crash before the caller writes the
// node's own files, or two starts at once, never makes a second one, and
// the next start reuses this one, token included.
func (s *Store) EnsureLocalNode(ctx context.Context, n Node) (Node, error) {
	_, err := s.exec(ctx, `INSERT INTO nodes (id, name, tags, ram_mib, disk_mib, processor, address, port, scheme, status,
		token, cpus, is_local, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
		n.ID, n.Name, n.Tags, n.RAMMiB, n.DiskMiB, n.Processor, n.Address, n.Port, n.Scheme, n.Status, n.Token,
		n.CPUs, millis(n.CreatedAt))
	if _, dup := uniqueViolation(err); err != nil && !dup {
		return Node{}, fmt.Errorf("create local node: %w", err)
	}
	local, err := scanNode(s.queryRow(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE is_local = 1`))
	if err != nil {
		return Node{}, fmt.Errorf("read local node: %w", err)
	}
	return local, nil
}

// ListNodes returns every node, oldest first.
func (s *Store) ListNodes(ctx context.Context) ([]Node, error) {
	return s.NodePage(ctx, Page{})
}

// NodeByID returns one node.
func (s *Store) NodeByID(ctx context.Context, id string) (Node, error) {
	n, err := scanNode(s.queryRow(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = ?`, id))
	if err != nil {
		return Node{}, notFound(err, "Node")
	}
	return n, nil
}

// DeleteNode removes a node. A node that still carries instances, or
// removals not yet confirmed, is a Conflict: nothing is orphaned. A node
// never configured was never sent an instance, so its pending removals have
// nothing to remove and go with it.
func (s *Store) DeleteNode(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// On PostgreSQL the row lock makes a deploy to this node (which locks
		// it too) finish first or fail after, so the count below is final;
		// without it the DELETE could fail on the foreign key instead.
		lock := ""
		if s.pg {
			lock = " FOR UPDATE"
		}
		var token string
		err := tx.QueryRowContext(ctx, s.q(`SELECT token FROM nodes WHERE id = ?`+lock), id).Scan(&token)
		if err != nil {
			return notFound(err, "Node")
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM instances WHERE node_id = ?`), id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fault.New(fault.Conflict, "node still has %d instance(s); delete them first", n)
		}
		if token == "" {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM removals WHERE node_id = ?`), id); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM removals WHERE node_id = ?`), id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fault.New(fault.Conflict, "node still has %d instance removal(s) pending; bring it online to finish them", n)
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM nodes WHERE id = ?`), id)
		return err
	})
	if err != nil && fault.KindOf(err) == fault.Other {
		return fmt.Errorf("delete node %s: %w", id, err)
	}
	return err
}

// ConfigureNode exchanges a one-time configure key (by its hash) for the
// node's bearer token. The key works once and only before it expires: the
// single UPDATE both checks and consumes it.
//
// panelTokenHash is the SHA-256 of the token the node calls the panel
// with, stored in the same UPDATE: a node has both of its tokens or
// neither.
func (s *Store) ConfigureNode(ctx context.Context, keyHash, token, panelTokenHash string, now time.Time) (Node, error) {
	res, err := s.exec(ctx, `UPDATE nodes SET token = ?, panel_token_hash = ?, configure_key_hash = NULL, configure_expires = 0
		WHERE configure_key_hash = ? AND configure_expires > ?`, token, panelTokenHash, keyHash, millis(now))
	if err != nil {
		return Node{}, fmt.Errorf("configure node: %w", err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return Node{}, fmt.Errorf("configure node: %w", err)
	}
	if n != 1 {
		return Node{}, fault.New(fault.Permission, "configure key is invalid, used or expired")
	}
	node, err := scanNode(s.queryRow(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE token = ?`, token))
	if err != nil {
		return Node{}, fmt.Errorf("configure node: %w", err)
	}
	return node, nil
}

// NodeByPanelToken returns the node whose panel token hashes to hash: the
// node calling the panel. An empty hash, or one no node has, is NotExist.
// The lookup by an index of the hash is safe against timing: the hash of a
// 256-bit random token reveals nothing of the token.
func (s *Store) NodeByPanelToken(ctx context.Context, hash string) (Node, error) {
	if hash == "" {
		return Node{}, fault.New(fault.NotExist, "Node not found")
	}
	n, err := scanNode(s.queryRow(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE panel_token_hash = ?`, hash))
	if err != nil {
		return Node{}, notFound(err, "Node")
	}
	return n, nil
}

// SetNodePanelToken replaces the hash of a node's panel token: for the
// local node of `berth up`, which is never configured by key.
func (s *Store) SetNodePanelToken(ctx context.Context, id, hash string) error {
	res, err := s.exec(ctx, `UPDATE nodes SET panel_token_hash = ? WHERE id = ?`, hash, id)
	if err != nil {
		return fmt.Errorf("set node panel token: %w", err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return fmt.Errorf("set node panel token: %w", err)
	}
	if n != 1 {
		return fault.New(fault.NotExist, "Node not found")
	}
	return nil
}

// SetNodeSFTPPort records the port a node serves SFTP on (0: none), as
// its health reports it; only a change is written.
func (s *Store) SetNodeSFTPPort(ctx context.Context, id string, port int) error {
	if _, err := s.exec(ctx, `UPDATE nodes SET sftp_port = ? WHERE id = ? AND sftp_port <> ?`, port, id, port); err != nil {
		return fmt.Errorf("set node sftp port: %w", err)
	}
	return nil
}

// RenewConfigureKey replaces a node's configure key, for a node that must
// be configured again.
func (s *Store) RenewConfigureKey(ctx context.Context, id, keyHash string, expires time.Time) error {
	res, err := s.exec(ctx, `UPDATE nodes SET configure_key_hash = ?, configure_expires = ? WHERE id = ?`,
		keyHash, millis(expires), id)
	if err != nil {
		return fmt.Errorf("renew configure key: %w", err)
	}
	n, err := rowsChanged(res)
	if err != nil {
		return fmt.Errorf("renew configure key: %w", err)
	}
	if n != 1 {
		return fault.New(fault.NotExist, "Node not found")
	}
	return nil
}

// SetNodeHealth records the result of a health call: the node's status,
// and when it is online its version and CPU cores (0: the node does not
// say, and the last count stays). Only a change of these counts as a
// change for cached reads; the time last seen does not.
func (s *Store) SetNodeHealth(ctx context.Context, id, status, version string, cpus int, seen time.Time) error {
	var prev, name string
	err := s.queryRow(ctx, `SELECT status, name FROM nodes WHERE id = ?`, id).Scan(&prev, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("set node health: %w", err)
	}
	if prev != status {
		if err := s.moveNodeStatus(ctx, id, name, prev, status); err != nil {
			return fmt.Errorf("set node health: %w", err)
		}
	}
	if status == NodeOnline {
		_, err = s.exec(ctx, `UPDATE nodes SET status = ?, version = ?, cpus = CASE WHEN ? > 0 THEN ? ELSE cpus END
			WHERE id = ? AND (status <> ? OR version <> ? OR (? > 0 AND cpus <> ?))`,
			status, version, cpus, cpus, id, status, version, cpus, cpus)
		if err == nil {
			_, err = s.execQuiet(ctx, `UPDATE nodes SET last_seen = ? WHERE id = ?`, millis(seen), id)
		}
	} else {
		_, err = s.exec(ctx, `UPDATE nodes SET status = ? WHERE id = ? AND status <> ?`, status, id, status)
	}
	if err != nil {
		return fmt.Errorf("set node health: %w", err)
	}
	return nil
}

// moveNodeStatus changes a node's status from prev, a compare-and-set so
// that of two panels seeing one change only one makes it, and emits
// node.offline or node.online with it: a node that was Online going
// Offline, and back. A node's first contact, from Unconfigured, is neither.
func (s *Store) moveNodeStatus(ctx context.Context, id, name, prev, status string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE nodes SET status = ? WHERE id = ? AND status = ?`), status, id, prev)
		if err != nil {
			return err
		}
		if n, err := rowsChanged(res); err != nil || n == 0 {
			return err
		}
		var event string
		switch {
		case prev == NodeOnline && status == NodeOffline:
			event = EventNodeOffline
		case prev == NodeOffline && status == NodeOnline:
			event = EventNodeOnline
		default:
			return nil
		}
		return s.emit(ctx, tx, Event{Event: event, NodeID: id, Data: map[string]any{"name": name}})
	})
}
