package store

import (
	"context"
	"database/sql"
	"time"
)

// The admin pages' lists: users, nodes and API keys, each with what the
// page shows beside the record, counted in the one query that lists them
// rather than one query per row.

// UserSummary is a user as the admin's list shows it. PasswordHash is
// left empty: a list has no use for it.
type UserSummary struct {
	User
	// Instances counts the instances the user owns.
	Instances int
	// TwoFactor is set when the user has two-factor on.
	TwoFactor bool
}

// UserSummaries returns every user, oldest first, with the number of
// instances each owns and whether its two-factor is on.
func (s *Store) UserSummaries(ctx context.Context) ([]UserSummary, error) {
	return queryAll(ctx, s, "list user summaries", func(row scanner) (UserSummary, error) {
		var u UserSummary
		var admin, twoFactor int
		var created int64
		err := row.Scan(&u.ID, &u.Username, &u.Email, &admin, &created, &u.Instances, &twoFactor)
		u.Admin, u.TwoFactor, u.CreatedAt = admin != 0, twoFactor != 0, fromMillis(created)
		return u, err
	}, `SELECT u.id, u.username, u.email, u.admin, u.created_at, COALESCE(i.n, 0), COALESCE(tf.enabled, 0)
		FROM users u
		LEFT JOIN (SELECT user_id, COUNT(*) AS n FROM instances GROUP BY user_id) i ON i.user_id = u.id
		LEFT JOIN two_factor tf ON tf.user_id = u.id
		ORDER BY u.created_at, u.id`+s.bytewise)
}

// NodeLoad is a node with what its instances reserve of it. Token is left
// empty.
type NodeLoad struct {
	Node
	// Instances counts the node's instances.
	Instances int
	// UsedMemoryMiB and UsedDiskMiB sum the instances' limits.
	UsedMemoryMiB, UsedDiskMiB int64
	// UsedCPU sums the instances' CPU limits, in cores.
	UsedCPU float64
}

// NodeLoads returns every node, oldest first, with the sums of its
// instances' limits.
func (s *Store) NodeLoads(ctx context.Context) ([]NodeLoad, error) {
	return queryAll(ctx, s, "list node loads", func(row scanner) (NodeLoad, error) {
		var n NodeLoad
		var seen, created int64
		err := row.Scan(&n.ID, &n.Name, &n.Tags, &n.RAMMiB, &n.Node.DiskMiB, &n.Processor, &n.Address, &n.Port,
			&n.Scheme, &n.Status, &seen, &n.Version, &created, &n.CPUs,
			&n.Instances, &n.UsedMemoryMiB, &n.UsedDiskMiB, &n.UsedCPU)
		n.LastSeen, n.CreatedAt = fromMillis(seen), fromMillis(created)
		return n, err
	}, `SELECT n.id, n.name, n.tags, n.ram_mib, n.disk_mib, n.processor, n.address, n.port, n.scheme, n.status,
		n.last_seen, n.version, n.created_at, n.cpus,
		COALESCE(i.n, 0), COALESCE(i.memory, 0), COALESCE(i.disk, 0), COALESCE(i.cpu, 0)
		FROM nodes n
		LEFT JOIN (SELECT node_id, COUNT(*) AS n, SUM(memory_mib) AS memory, SUM(disk_mib) AS disk, SUM(cpu) AS cpu
			FROM instances GROUP BY node_id) i ON i.node_id = n.id
		ORDER BY n.created_at, n.id`+s.bytewise)
}

// APIKeyUse is an API key with the time of the last change made with it.
// KeyHash is left empty.
type APIKeyUse struct {
	APIKey
	// LastChange is when the audit log last recorded a change made with
	// the key; zero when it records none. Reads are not recorded.
	LastChange time.Time
}

// APIKeyUses returns every key, revoked ones included, oldest first, with
// the time of its last recorded change. The audit log is read once,
// grouped by credential, not once per key.
func (s *Store) APIKeyUses(ctx context.Context) ([]APIKeyUse, error) {
	return queryAll(ctx, s, "list api key uses", func(row scanner) (APIKeyUse, error) {
		var k APIKeyUse
		var created, last int64
		var revoked sql.NullInt64
		err := row.Scan(&k.ID, &k.Name, &created, &revoked, &last)
		k.CreatedAt, k.RevokedAt, k.LastChange = fromMillis(created), fromMillis(revoked.Int64), fromMillis(last)
		return k, err
	}, `SELECT k.id, k.name, k.created_at, k.revoked_at, COALESCE(a.last, 0)
		FROM api_keys k
		LEFT JOIN (SELECT credential_id, MAX(created_at) AS last FROM audit_log WHERE actor_kind = 'key'
			GROUP BY credential_id) a ON a.credential_id = k.id
		ORDER BY k.created_at, k.id`+s.bytewise)
}
