package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// changesChannel is the PostgreSQL channel on which every write that a
// cached read could show is announced, so that the other panels sharing
// the database forget what they cached (Listen).
const changesChannel = "berth_changes"

// quietTables change nothing any panel caches: the audit log, login
// failures and the migrations' bookkeeping. Their writes are not
// announced.
var quietTables = []string{"audit_log", "login_failures", "schema_migrations"}

// quietColumns are the columns whose writes alone are bookkeeping that no
// cached answer shows (the same writes this process makes with execQuiet):
// a node's last contact, a lease's renewal, a session's or token's last
// use, a two-factor code's step. An UPDATE that changes only these is not
// announced; a table gets an update every few seconds of each.
var quietColumns = []string{"last_seen", "lease_expires", "last_seen_at", "last_used_at", "last_step"}

// installNotify makes, on PostgreSQL, a trigger on every table of the
// schema (but quietTables) that announces each change of a row on
// changesChannel with the payload "<schema>.<table> <application_name>
// <node_id> <instance_id>": the writer's origin (see openPostgres); the
// node of the row, for a table that has a node_id column, so that only the
// panel driving that node need look; and the instance of the row, so that
// a cached instance list re-reads that row alone. PostgreSQL folds the
// same payload sent many times in one transaction into one notification,
// so a bulk write costs one message. It runs at every open, after the
// migrations, so that tables a new migration adds are covered; the
// statements are idempotent and run under the migration lock, which
// panels starting together take in turn.
func (s *Store) installNotify(ctx context.Context) error {
	if !s.pg {
		return nil
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("install change notifications: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("install change notifications: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)

	quiet := "'" + strings.Join(quietColumns, "','") + "'"
	fn := `CREATE OR REPLACE FUNCTION berth_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	j jsonb;
BEGIN
	IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - ARRAY[` + quiet + `]) = (to_jsonb(OLD) - ARRAY[` + quiet + `]) THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'DELETE' THEN j := to_jsonb(OLD); ELSE j := to_jsonb(NEW); END IF;
	PERFORM pg_notify('` + changesChannel + `',
		TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME || ' ' || current_setting('application_name') || ' ' ||
		COALESCE(j ->> 'node_id', '') || ' ' ||
		COALESCE(CASE WHEN TG_TABLE_NAME = 'instances' THEN j ->> 'id' ELSE j ->> 'instance_id' END, ''));
	RETURN NULL;
END $$`
	if _, err := conn.ExecContext(ctx, fn); err != nil {
		return fmt.Errorf("install change notifications: %w", err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return fmt.Errorf("install change notifications: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return fmt.Errorf("install change notifications: %w", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("install change notifications: %w", err)
	}
	for _, t := range tables {
		if isQuietTable(t) {
			continue
		}
		id := pgx.Identifier{t}.Sanitize()
		if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TRIGGER berth_notify_change
			AFTER INSERT OR UPDATE OR DELETE ON `+id+` FOR EACH ROW EXECUTE FUNCTION berth_notify_change()`); err != nil {
			return fmt.Errorf("install change notifications on %s: %w", t, err)
		}
	}
	return nil
}

func isQuietTable(t string) bool {
	for _, q := range quietTables {
		if t == q {
			return true
		}
	}
	return false
}

// Listen holds one connection listening to the changes other processes
// make to the database (PostgreSQL announces them; see installNotify), and
// calls changed with each changed table's name and, for rows that belong
// to a node (instances, removals), the node's ID, after bumping Version so
// that caches keyed by it are dropped too. It calls changed("", "") once it
// listens: whatever happened before went unseen, so anything may have
// changed. It returns when ctx ends (nil) or the connection fails; the
// caller reconnects. This process's own writes are not passed on: it
// knows them already. On SQLite, where one panel owns the file, there is
// no one else to hear from, and Listen waits for ctx to end.
func (s *Store) Listen(ctx context.Context, changed func(table, node string)) error {
	if !s.pg {
		<-ctx.Done()
		return nil
	}
	var schema string
	if err := s.read.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return listenError(ctx, err)
	}
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return listenError(ctx, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
		return listenError(ctx, err)
	}
	s.bump(nil)
	changed("", "")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return listenError(ctx, err)
		}
		f := strings.Split(n.Payload, " ")
		if len(f) != 4 {
			continue
		}
		table, ok := strings.CutPrefix(f[0], schema+".")
		if !ok || f[1] == s.origin {
			continue // another schema's panels, or this process's write
		}
		s.bump(changedInstances(table, f[3]))
		changed(table, f[2])
	}
}

// listenError is nil once ctx has ended: that is how Listen stops.
func listenError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("listen for changes: %w", err)
}

// changedInstances is what a change to table, of a row of instance (""
// for none), did to the instance list (see bump): that one row when the
// row is an instance's or its ports'; anything, to be safe, otherwise.
func changedInstances(table, instance string) []string {
	if instance != "" && (table == "instances" || table == "instance_ports") {
		return []string{instance}
	}
	return nil
}
