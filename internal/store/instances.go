package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/ports"
)

// Install states of an instance (its InternalState).
const (
	StateInstalling = "INSTALLING"
	StateReady      = "READY"
	StateFailed     = "FAILED"
)

// Instance is one deployed server. Beside what the API shows it carries
// what the reconciler needs: the desired power state, a generation bumped
// by every change of desire, the generation the node last applied, and the
// retry bookkeeping.
type Instance struct {
	ID         string
	Name       string
	UserID     string
	NodeID     string
	TemplateID string
	Image      string
	MemoryMiB  int64
	CPU        float64
	DiskMiB    int64
	Ports      []ports.Binding
	Primary    ports.Binding
	// PrimaryRaw is the primary port as the caller wrote it.
	PrimaryRaw    string
	Variables     map[string]string
	InternalState string
	Status        string
	ContainerID   string
	Suspended     bool
	// Desired is "running" or "stopped".
	Desired           string
	Generation        int64
	AppliedGeneration int64
	Attempts          int
	NextAttemptAt     time.Time
	InstallDeadline   time.Time
	LastError         string
	// ExitCode and OOMKilled describe the last time the server stopped,
	// as its node reported.
	ExitCode  int
	OOMKilled bool
	// NodeError is the node's account of a problem with the running
	// server, such as a crash loop or the disk limit.
	NodeError string
	// BackupLimit is how many backups the instance may hold at once; 0
	// allows none (see CreateBackup).
	BackupLimit int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Node is a summary of the node, joined at read time.
	Node NodeSummary
}

// NodeSummary is the part of a node shown inside an instance: no secrets.
type NodeSummary struct {
	ID      string
	Name    string
	Address string
	Port    int
	Status  string
}

const instanceColumns = `i.id, i.name, i.user_id, i.node_id, COALESCE(i.template_id, ''), i.image, i.memory_mib, i.cpu,
	i.disk_mib, i.ports, i.primary_port, i.primary_raw, i.variables, i.internal_state, i.status, i.container_id,
	i.suspended, i.desired, i.generation, i.applied_generation, i.attempts, i.next_attempt_at, i.install_deadline,
	i.last_error, i.created_at, i.updated_at, n.name, n.address, n.port, n.status, i.exit_code, i.oom_killed,
	i.node_error, i.backup_limit`

const instanceFrom = ` FROM instances i JOIN nodes n ON n.id = i.node_id`

func scanInstance(row scanner) (Instance, error) {
	var in Instance
	var portsText, vars string
	var primaryPort, suspended, oom int
	var next, deadline, created, updated int64
	err := row.Scan(&in.ID, &in.Name, &in.UserID, &in.NodeID, &in.TemplateID, &in.Image, &in.MemoryMiB, &in.CPU,
		&in.DiskMiB, &portsText, &primaryPort, &in.PrimaryRaw, &vars, &in.InternalState, &in.Status, &in.ContainerID,
		&suspended, &in.Desired, &in.Generation, &in.AppliedGeneration, &in.Attempts, &next, &deadline,
		&in.LastError, &created, &updated, &in.Node.Name, &in.Node.Address, &in.Node.Port, &in.Node.Status,
		&in.ExitCode, &oom, &in.NodeError, &in.BackupLimit)
	if err != nil {
		return Instance{}, err
	}
	in.OOMKilled = oom != 0
	in.Node.ID = in.NodeID
	in.Suspended = suspended != 0
	in.NextAttemptAt, in.InstallDeadline = fromMillis(next), fromMillis(deadline)
	in.CreatedAt, in.UpdatedAt = fromMillis(created), fromMillis(updated)
	if in.Ports, err = ports.Parse(portsText); err != nil {
		return Instance{}, corrupt(err, "instance %s: stored ports", in.ID)
	}
	for _, b := range in.Ports {
		if b.Host == primaryPort {
			in.Primary = b
		}
	}
	if err := json.Unmarshal([]byte(vars), &in.Variables); err != nil {
		return Instance{}, corrupt(err, "instance %s: stored variables", in.ID)
	}
	return in, nil
}

// CreateInstance records a new instance and allocates its host ports, in one
// transaction. The user and node must exist, the node must have room for
// the memory and disk, and every host port must be free on the node: the
// port table's primary key decides, so parallel deploys never share one.
// Each failure is an Invalid fault naming the field.
func (s *Store) CreateInstance(ctx context.Context, in Instance) error {
	return s.createInstance(ctx, in, nil)
}

// CreateInstanceOnce is CreateInstance for a request sent with an
// Idempotency-Key: the key's record, naming the instance, is written in
// the same transaction, so the instance and its record exist together or
// not at all. A key already recorded is ErrIdempotencyKeyTaken and
// creates nothing.
func (s *Store) CreateInstanceOnce(ctx context.Context, in Instance, key IdempotencyKey) error {
	return s.createInstance(ctx, in, &key)
}

func (s *Store) createInstance(ctx context.Context, in Instance, key *IdempotencyKey) error {
	vars, err := json.Marshal(in.Variables)
	if err != nil {
		return fmt.Errorf("create instance: %w", err)
	}
	err = s.txFor(ctx, []string{in.ID}, func(tx *sql.Tx) error {
		if key != nil {
			// First, so that a concurrent duplicate waits here on the key's
			// index (PostgreSQL) and then fails, before it takes the node.
			if err := s.recordIdempotencyKey(ctx, tx, *key, in.ID); err != nil {
				return err
			}
		}
		ok, err := userExists(ctx, s, tx, in.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return fault.InvalidField("user", "no user has userId %q", in.UserID)
		}
		if err := s.allocate(ctx, tx, in); err != nil {
			return err
		}
		var tmpl any
		if in.TemplateID != "" {
			tmpl = in.TemplateID
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO instances (id, name, user_id, node_id, template_id, image,
			memory_mib, cpu, disk_mib, ports, primary_port, primary_raw, variables, internal_state, status,
			suspended, desired, generation, install_deadline, created_at, updated_at, backup_limit)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			in.ID, in.Name, in.UserID, in.NodeID, tmpl, in.Image, in.MemoryMiB, in.CPU, in.DiskMiB,
			ports.Format(in.Ports), in.Primary.Host, in.PrimaryRaw, string(vars), in.InternalState, in.Status,
			boolInt(in.Suspended), in.Desired, in.Generation, millis(in.InstallDeadline),
			millis(in.CreatedAt), millis(in.CreatedAt), in.BackupLimit)
		if _, dup := uniqueViolation(err); dup {
			return fault.New(fault.Exist, "instance id %q is taken", in.ID)
		}
		// The user and the node were found above, in this transaction, and
		// the node is locked; the template was read before it, so only the
		// template can have gone since: deleted by a racing DeleteTemplate.
		if foreignKeyViolation(err) {
			return fault.InvalidField("image", "image template %s was deleted during the deploy", in.TemplateID)
		}
		if err != nil {
			return err
		}
		for _, b := range in.Ports {
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO instance_ports (node_id, host_port, instance_id, container_port)
				VALUES (?, ?, ?, ?)`), in.NodeID, b.Host, in.ID, b.Container)
			if _, dup := uniqueViolation(err); dup {
				return fault.InvalidField("ports", "host port %d is already allocated on node %s", b.Host, in.NodeID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && fault.KindOf(err) == fault.Other {
		return fmt.Errorf("create instance: %w", err)
	}
	return err
}

// allocate takes the memory and disk of in from its node's free capacity,
// inside the creating transaction. The node's row holds what its instances
// have taken, so the check reads one row however many instances the node
// carries. On PostgreSQL the row lock serializes deploys to one node, so
// two cannot both fit into the last free memory; SQLite's immediate
// transactions are serialized already. The UPDATE repeats the check in its
// WHERE, so that even a caller that forgot the lock could not overdraw.
func (s *Store) allocate(ctx context.Context, tx *sql.Tx, in Instance) error {
	lock := ""
	if s.pg {
		lock = " FOR UPDATE"
	}
	var ram, disk, usedRAM, usedDisk int64
	var cpus int
	err := tx.QueryRowContext(ctx, s.q(`SELECT ram_mib, disk_mib, cpus, allocated_memory_mib, allocated_disk_mib
		FROM nodes WHERE id = ?`+lock), in.NodeID).Scan(&ram, &disk, &cpus, &usedRAM, &usedDisk)
	if err == sql.ErrNoRows {
		return fault.InvalidField("nodeId", "no node has id %q", in.NodeID)
	}
	if err != nil {
		return err
	}
	// A node that never reported its cores is given the deploy; it
	// refuses a limit above its cores itself.
	if cpus > 0 && in.CPU > float64(cpus) {
		return fault.InvalidField("cpu", "node has %d CPU core(s), %g asked", cpus, in.CPU)
	}
	if usedRAM+in.MemoryMiB > ram {
		return fault.InvalidField("memory", "node has %d MiB of memory free, %d MiB asked", max(ram-usedRAM, 0), in.MemoryMiB)
	}
	if usedDisk+in.DiskMiB > disk {
		return fault.InvalidField("disk", "node has %d MiB of disk free, %d MiB asked", max(disk-usedDisk, 0), in.DiskMiB)
	}
	return s.addAllocation(ctx, tx, "memory", in.NodeID, in.MemoryMiB, in.DiskMiB)
}

// addAllocation adds memory and disk (MiB) to node nodeID's allocation in tx,
// with one guarded UPDATE that changes nothing past the node's capacity:
// that is an Invalid fault naming field.
func (s *Store) addAllocation(ctx context.Context, tx *sql.Tx, field, nodeID string, memory, disk int64) error {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE nodes SET allocated_memory_mib = allocated_memory_mib + ?,
		allocated_disk_mib = allocated_disk_mib + ?
		WHERE id = ? AND allocated_memory_mib + ? <= ram_mib AND allocated_disk_mib + ? <= disk_mib`),
		memory, disk, nodeID, memory, disk)
	if err != nil {
		return err
	}
	n, err := rowsChanged(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.InvalidField(field, "node %s has no room left for %d MiB of memory and %d MiB of disk", nodeID, memory, disk)
	}
	return nil
}

// ListInstances returns every instance, oldest first.
func (s *Store) ListInstances(ctx context.Context) ([]Instance, error) {
	return s.InstancePage(ctx, InstanceFilter{}, Page{})
}

// InstancesByUser returns the instances userID owns.
func (s *Store) InstancesByUser(ctx context.Context, userID string) ([]Instance, error) {
	return s.instancesWhere(ctx, " WHERE i.user_id = ?", userID)
}

// DueInstances returns the instances of a node the reconciler should act on now: a
// change of desire the node has not applied, or an install not finished,
// whose backoff has passed. FAILED instances wait for a new desire.
//
// The state names are written into the text, not bound, and the predicate
// is the one of the partial index instances_due word for word: that is how
// both databases see the index applies, so a node's pass reads only the
// instances that want work, never all of the node's.
func (s *Store) DueInstances(ctx context.Context, nodeID string, now time.Time) ([]Instance, error) {
	return s.instancesWhere(ctx, dueWhere, nodeID, millis(now))
}

// dueWhere selects a node's due instances: (node, now).
const dueWhere = ` WHERE i.node_id = ? AND ` + dueInstances + ` AND i.next_attempt_at <= ?`

// dueInstances is the predicate of the partial index instances_due
// (migration 0014), with the table's alias.
const dueInstances = `(i.applied_generation < i.generation OR i.internal_state = '` + StateInstalling + `')
		AND i.internal_state <> '` + StateFailed + `'`

// OverdueInstalls returns a node's instances still INSTALLING after their
// install deadline, through the partial index instances_installing.
func (s *Store) OverdueInstalls(ctx context.Context, nodeID string, now time.Time) ([]Instance, error) {
	return s.instancesWhere(ctx, overdueWhere, nodeID, millis(now))
}

// overdueWhere selects a node's overdue installs: (node, now).
const overdueWhere = ` WHERE i.node_id = ? AND i.internal_state = '` + StateInstalling + `' AND i.install_deadline < ?`

func (s *Store) instancesWhere(ctx context.Context, where string, args ...any) ([]Instance, error) {
	return queryAll(ctx, s, "list instances", scanInstance, `SELECT `+instanceColumns+instanceFrom+where+` ORDER BY i.created_at, i.id`+s.bytewise, args...)
}

// InstanceByID returns one instance.
func (s *Store) InstanceByID(ctx context.Context, id string) (Instance, error) {
	in, err := scanInstance(s.queryRow(ctx, `SELECT `+instanceColumns+instanceFrom+` WHERE i.id = ?`, id))
	if err != nil {
		return Instance{}, notFound(err, "Instance")
	}
	return in, nil
}

// SetSuspended sets the suspended flag. Setting it to what it already is
// changes nothing, so both directions are idempotent.
func (s *Store) SetSuspended(ctx context.Context, id string, suspended bool) (Instance, error) {
	return s.changeDesire(ctx, id, `suspended = ?`, `suspended <> ?`, boolInt(suspended))
}

// SetDesired sets the desired power state ("running" or "stopped").
func (s *Store) SetDesired(ctx context.Context, id, desired string) (Instance, error) {
	return s.changeDesire(ctx, id, `desired = ?`, `desired <> ?`, desired)
}

// changeDesire applies set when cond holds and bumps the generation, so the
// reconciler carries the change to the node; then it reads the instance.
func (s *Store) changeDesire(ctx context.Context, id, set, cond string, v any) (Instance, error) {
	_, err := s.execFor(ctx, []string{id}, `UPDATE instances SET `+set+`, generation = generation + 1, attempts = 0, next_attempt_at = 0,
		updated_at = ? WHERE id = ? AND `+cond, v, millis(time.Now()), id, v)
	if err != nil {
		return Instance{}, fmt.Errorf("update instance %s: %w", id, err)
	}
	return s.InstanceByID(ctx, id)
}

// MarkApplied records that the node applied generation gen, and what it
// observed. An INSTALLING instance becomes READY here, exactly once.
func (s *Store) MarkApplied(ctx context.Context, id string, gen int64, status, containerID string) error {
	_, err := s.execFor(ctx, []string{id}, `UPDATE instances SET applied_generation = ?, status = ?, container_id = ?, attempts = 0,
		last_error = '', next_attempt_at = 0, updated_at = ?,
		internal_state = CASE WHEN internal_state = ? THEN ? ELSE internal_state END
		WHERE id = ? AND applied_generation <= ?`,
		gen, status, containerID, millis(time.Now()), StateInstalling, StateReady, id, gen)
	if err != nil {
		return fmt.Errorf("mark applied %s: %w", id, err)
	}
	return nil
}

// RecordAttemptFailure counts a failed attempt and when to try again.
func (s *Store) RecordAttemptFailure(ctx context.Context, id, reason string, next time.Time) error {
	_, err := s.execFor(ctx, []string{id}, `UPDATE instances SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
		updated_at = ? WHERE id = ?`, reason, millis(next), millis(time.Now()), id)
	if err != nil {
		return fmt.Errorf("record failure %s: %w", id, err)
	}
	return nil
}

// MarkFailed turns an instance that is still installing into FAILED, with
// a reason a person can read, and emits install.failed with it: once, for
// only the write that makes the change emits.
func (s *Store) MarkFailed(ctx context.Context, id, reason string) error {
	err := s.txFor(ctx, []string{id}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE instances SET internal_state = ?, last_error = ?, updated_at = ?
			WHERE id = ? AND internal_state = ?`), StateFailed, reason, millis(time.Now()), id, StateInstalling)
		if err != nil {
			return err
		}
		if n, err := rowsChanged(res); err != nil || n == 0 {
			return err
		}
		var nodeID, name string
		err = tx.QueryRowContext(ctx, s.q(`SELECT node_id, name FROM instances WHERE id = ?`), id).Scan(&nodeID, &name)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, Event{Event: EventInstallFailed, InstanceID: id, NodeID: nodeID,
			Data: map[string]any{"name": name, "reason": reason}})
	})
	if err != nil {
		return fmt.Errorf("mark failed %s: %w", id, err)
	}
	return nil
}

// Observation is what a node reports about one of its instances.
type Observation struct {
	Status      string
	ContainerID string
	// ExitCode and OOMKilled describe the last time the server stopped.
	ExitCode  int
	OOMKilled bool
	// Error is the node's explanation, such as a crash-loop or disk-limit
	// stop; empty when all is well.
	Error string
}

// SetObserved records what node nodeID reports of one of its instances,
// writing only when something changed. A report about an instance placed
// on another node is ignored. A change of power status emits its event
// (statusEvent) in the same transaction; the write is a compare-and-set on
// the status read, so of two panels observing one change only one writes
// it and emits.
func (s *Store) SetObserved(ctx context.Context, nodeID, id string, o Observation) error {
	var prev Observation
	var oom int
	var name string
	err := s.queryRow(ctx, `SELECT status, container_id, exit_code, oom_killed, node_error, name FROM instances
		WHERE id = ? AND node_id = ?`, id, nodeID).Scan(&prev.Status, &prev.ContainerID, &prev.ExitCode, &oom, &prev.Error, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("set observed %s: %w", id, err)
	}
	prev.OOMKilled = oom != 0
	if prev == o {
		return nil
	}
	err = s.txFor(ctx, []string{id}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE instances SET status = ?, container_id = ?, exit_code = ?,
			oom_killed = ?, node_error = ?, updated_at = ? WHERE id = ? AND node_id = ? AND status = ?`),
			o.Status, o.ContainerID, o.ExitCode, boolInt(o.OOMKilled), o.Error, millis(time.Now()), id, nodeID, prev.Status)
		if err != nil {
			return err
		}
		// No row: another writer moved the status first and emitted its
		// own event; the next observation brings the rest up to date.
		if n, err := rowsChanged(res); err != nil || n == 0 {
			return err
		}
		event := statusEvent(prev.Status, o.Status)
		if event == "" {
			return nil
		}
		data := map[string]any{"name": name, "status": o.Status, "previous": prev.Status}
		if event == EventInstanceCrashed {
			data["exitCode"], data["oomKilled"], data["error"] = o.ExitCode, o.OOMKilled, o.Error
		}
		return s.emit(ctx, tx, Event{Event: event, InstanceID: id, NodeID: nodeID, Data: data})
	})
	if err != nil {
		return fmt.Errorf("set observed %s: %w", id, err)
	}
	return nil
}

// statusEvent names the event of a change of power status from prev to
// next (nodeapi's status words), or "" for none. Stopped counts only after
// a server that ran: an install's end, or a deploy that never started, is
// no stop.
func statusEvent(prev, next string) string {
	switch {
	case prev == next:
		return ""
	case next == "running":
		return EventInstanceStarted
	case next == "crashed":
		return EventInstanceCrashed
	case next == "stopped" && (prev == "running" || prev == "starting" || prev == "stopping"):
		return EventInstanceStopped
	}
	return ""
}

// ObservedOnNode returns what the database holds of the observed state of
// each instance of node nodeID, by instance id: one read, so that the
// reconciler writes only the reports that change something instead of
// sending one UPDATE per instance at every pass.
func (s *Store) ObservedOnNode(ctx context.Context, nodeID string) (map[string]Observation, error) {
	rows, err := s.query(ctx, `SELECT id, status, container_id, exit_code, oom_killed, node_error FROM instances
		WHERE node_id = ?`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("observed on node %s: %w", nodeID, err)
	}
	defer rows.Close()
	m := map[string]Observation{}
	for rows.Next() {
		var id string
		var o Observation
		var oom int
		if err := rows.Scan(&id, &o.Status, &o.ContainerID, &o.ExitCode, &oom, &o.Error); err != nil {
			return nil, fmt.Errorf("observed on node %s: %w", nodeID, err)
		}
		o.OOMKilled = oom != 0
		m[id] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("observed on node %s: %w", nodeID, err)
	}
	return m, nil
}

// DeleteInstance removes an instance and frees its host ports at once, and
// queues the removal of its container and data on its node, in one
// transaction: the removal outlives a node that is down and a panel that
// restarts.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	err := s.txFor(ctx, []string{id}, func(tx *sql.Tx) error {
		// On PostgreSQL the row lock makes a concurrent delete of the same
		// instance wait and then find it gone, so its memory is freed once.
		lock := ""
		if s.pg {
			lock = " FOR UPDATE"
		}
		var nodeID string
		var memory, disk int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT node_id, memory_mib, disk_mib FROM instances WHERE id = ?`+lock), id).
			Scan(&nodeID, &memory, &disk)
		if err != nil {
			return notFound(err, "Instance")
		}
		// The node's allocation falls in the transaction that removes the
		// instance, so the two never disagree.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE nodes SET allocated_memory_mib = allocated_memory_mib - ?,
			allocated_disk_mib = allocated_disk_mib - ? WHERE id = ?`), memory, disk, nodeID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM instance_ports WHERE instance_id = ?`), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM instances WHERE id = ?`), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO removals (instance_id, node_id, created_at) VALUES (?, ?, ?)`),
			id, nodeID, millis(time.Now()))
		return err
	})
	if err != nil && fault.KindOf(err) == fault.Other {
		return fmt.Errorf("delete instance %s: %w", id, err)
	}
	return err
}

// Removal is a deleted instance whose node has not yet confirmed removing
// its container and data.
type Removal struct {
	InstanceID string
	NodeID     string
	Attempts   int
	LastError  string
}

// DueRemovals returns the removals, on every node, whose backoff has
// passed.
func (s *Store) DueRemovals(ctx context.Context, now time.Time) ([]Removal, error) {
	return queryAll(ctx, s, "due removals", scanRemoval, `SELECT instance_id, node_id, attempts, last_error FROM removals
		WHERE next_attempt_at <= ? ORDER BY created_at, instance_id`+s.bytewise, millis(now))
}

// DueNodeRemovals returns the removals on node nodeID whose backoff has
// passed.
func (s *Store) DueNodeRemovals(ctx context.Context, nodeID string, now time.Time) ([]Removal, error) {
	return queryAll(ctx, s, "due removals", scanRemoval, nodeRemovalsQuery+` ORDER BY created_at, instance_id`+s.bytewise,
		nodeID, millis(now))
}

// nodeRemovalsQuery selects a node's due removals, through the index
// removals_node_due: (node, now).
const nodeRemovalsQuery = `SELECT instance_id, node_id, attempts, last_error FROM removals
	WHERE node_id = ? AND next_attempt_at <= ?`

func scanRemoval(row scanner) (Removal, error) {
	var r Removal
	err := row.Scan(&r.InstanceID, &r.NodeID, &r.Attempts, &r.LastError)
	return r, err
}

// CompleteRemoval forgets a removal the node confirmed.
func (s *Store) CompleteRemoval(ctx context.Context, instanceID string) error {
	_, err := s.execFor(ctx, []string{}, `DELETE FROM removals WHERE instance_id = ?`, instanceID)
	if err != nil {
		return fmt.Errorf("complete removal %s: %w", instanceID, err)
	}
	return nil
}

// RecordRemovalFailure counts a failed removal and when to try again.
func (s *Store) RecordRemovalFailure(ctx context.Context, instanceID, reason string, next time.Time) error {
	_, err := s.execFor(ctx, []string{}, `UPDATE removals SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
		WHERE instance_id = ?`, reason, millis(next), instanceID)
	if err != nil {
		return fmt.Errorf("record removal failure %s: %w", instanceID, err)
	}
	return nil
}

// SetVariables replaces an instance's variables and bumps its generation,
// so that the reconciler carries them to the node, which recreates the
// container with them. Values the same as now change nothing.
func (s *Store) SetVariables(ctx context.Context, id string, vars map[string]string) (Instance, error) {
	text, err := json.Marshal(vars)
	if err != nil {
		return Instance{}, fmt.Errorf("set variables %s: %w", id, err)
	}
	return s.changeDesire(ctx, id, `variables = ?`, `variables <> ?`, string(text))
}

// BulkCreateInstances records many instances in one transaction, as a
// seed or an import does: benchmarks and the simulated fleet load 100,000
// this way in seconds. Each node's allocation grows by what its new
// instances take, under the same capacity rule as CreateInstance (a node
// without room fails the whole batch), and host ports are allocated as
// there. The users, nodes and templates must exist.
func (s *Store) BulkCreateInstances(ctx context.Context, list []Instance) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		insert, err := tx.PrepareContext(ctx, s.q(`INSERT INTO instances (id, name, user_id, node_id, template_id, image,
			memory_mib, cpu, disk_mib, ports, primary_port, primary_raw, variables, internal_state, status,
			suspended, desired, generation, applied_generation, install_deadline, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer insert.Close()
		port, err := tx.PrepareContext(ctx, s.q(`INSERT INTO instance_ports (node_id, host_port, instance_id, container_port)
			VALUES (?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer port.Close()
		type taken struct{ memory, disk int64 }
		byNode := map[string]taken{}
		for _, in := range list {
			vars, err := json.Marshal(in.Variables)
			if err != nil {
				return err
			}
			var tmpl any
			if in.TemplateID != "" {
				tmpl = in.TemplateID
			}
			if _, err := insert.ExecContext(ctx, in.ID, in.Name, in.UserID, in.NodeID, tmpl, in.Image, in.MemoryMiB, in.CPU,
				in.DiskMiB, ports.Format(in.Ports), in.Primary.Host, in.PrimaryRaw, string(vars), in.InternalState, in.Status,
				boolInt(in.Suspended), in.Desired, in.Generation, in.AppliedGeneration, millis(in.InstallDeadline),
				millis(in.CreatedAt), millis(in.CreatedAt)); err != nil {
				return fmt.Errorf("instance %s: %w", in.ID, err)
			}
			for _, b := range in.Ports {
				if _, err := port.ExecContext(ctx, in.NodeID, b.Host, in.ID, b.Container); err != nil {
					return fmt.Errorf("instance %s: host port %d: %w", in.ID, b.Host, err)
				}
			}
			t := byNode[in.NodeID]
			byNode[in.NodeID] = taken{t.memory + in.MemoryMiB, t.disk + in.DiskMiB}
		}
		for nodeID, t := range byNode {
			if err := s.addAllocation(ctx, tx, "nodeId", nodeID, t.memory, t.disk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && fault.KindOf(err) == fault.Other {
		return fmt.Errorf("bulk create instances: %w", err)
	}
	return err
}
