-- Backups of an instance's data folder, made and kept by its node. The
-- panel records each before it asks the node, and follows it until the
-- node says completed or failed. Rows go with their instance, locked ones
-- too: the node removes the archives with the instance's data.
CREATE TABLE backups (
    id             TEXT PRIMARY KEY,
    instance_id    TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    node_id        TEXT NOT NULL,
    name           TEXT NOT NULL,
    -- creating, completed or failed (nodeapi.Backup*); error says why a
    -- backup failed.
    state          TEXT NOT NULL,
    error          TEXT NOT NULL DEFAULT '',
    bytes          BIGINT NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',
    locked         INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    completed_at   BIGINT NOT NULL DEFAULT 0,
    -- The last restore: '' (never), running, completed or failed.
    restore_state  TEXT NOT NULL DEFAULT '',
    restore_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX backups_instance ON backups (instance_id, created_at, id);
-- The follower's query: what a node is still working on.
CREATE INDEX backups_node_state ON backups (node_id, state);

-- How many backups an instance may hold at once (creating and completed
-- ones count). Instances deployed before this migration get the default
-- of the -default-backup-limit flag.
ALTER TABLE instances ADD COLUMN backup_limit INTEGER NOT NULL DEFAULT 3;
