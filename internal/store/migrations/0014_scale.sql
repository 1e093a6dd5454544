-- Deploy cost that does not grow with the fleet.
--
-- Each node keeps the memory and disk its instances hold, written by the
-- same transactions that create and delete instances, so that a deploy
-- checks capacity by reading one row instead of summing every instance of
-- the node. Existing rows start from what their instances hold now.
ALTER TABLE nodes ADD COLUMN allocated_memory_mib BIGINT NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN allocated_disk_mib BIGINT NOT NULL DEFAULT 0;
UPDATE nodes SET
    allocated_memory_mib = COALESCE((SELECT SUM(memory_mib) FROM instances WHERE instances.node_id = nodes.id), 0),
    allocated_disk_mib = COALESCE((SELECT SUM(disk_mib) FROM instances WHERE instances.node_id = nodes.id), 0);

-- The reconciler's questions about one node, each answered from a partial
-- index that holds only the rows it asks about: the instances that want
-- work, the installs that may be overdue, the removals still to do. A node
-- with thousands of settled instances costs its pass nothing. The queries
-- repeat these predicates word for word, which is how SQLite and
-- PostgreSQL know the partial index applies.
CREATE INDEX instances_due ON instances (node_id, next_attempt_at)
    WHERE (applied_generation < generation OR internal_state = 'INSTALLING') AND internal_state <> 'FAILED';
CREATE INDEX instances_installing ON instances (node_id, install_deadline)
    WHERE internal_state = 'INSTALLING';
CREATE INDEX removals_node_due ON removals (node_id, next_attempt_at);

-- Answers to creating requests sent with an Idempotency-Key header, kept a
-- day so that a client whose answer was lost can ask again and get the
-- same one. The key belongs to the credential that used it: another
-- credential's identical key is a different record. resource_id is the
-- created row, written in the creating transaction, so that a panel killed
-- between the commit and the answer still finds it on the retry.
CREATE TABLE idempotency_keys (
    credential  TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    route       TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    resource_id TEXT NOT NULL DEFAULT '',
    status      INTEGER NOT NULL DEFAULT 0,
    answer      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (credential, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
