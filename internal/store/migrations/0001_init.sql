-- Berth's first schema. Portable SQL: it runs unchanged on SQLite and
-- PostgreSQL. Times are Unix milliseconds; booleans are 0/1 integers.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);

CREATE TABLE nodes (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    tags               TEXT NOT NULL,
    ram_mib            BIGINT NOT NULL,
    disk_mib           BIGINT NOT NULL,
    processor          TEXT NOT NULL,
    address            TEXT NOT NULL,
    port               INTEGER NOT NULL,
    scheme             TEXT NOT NULL,
    status             TEXT NOT NULL,
    last_seen          BIGINT NOT NULL DEFAULT 0,
    version            TEXT NOT NULL DEFAULT '',
    token              TEXT NOT NULL DEFAULT '',
    configure_key_hash TEXT,
    configure_expires  BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX nodes_configure_key_hash ON nodes (configure_key_hash);

CREATE TABLE templates (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    doc        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX templates_name_key ON templates (name_key);

CREATE TABLE instances (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id),
    node_id            TEXT NOT NULL REFERENCES nodes (id),
    template_id        TEXT REFERENCES templates (id),
    image              TEXT NOT NULL,
    memory_mib         BIGINT NOT NULL,
    cpu                DOUBLE PRECISION NOT NULL,
    disk_mib           BIGINT NOT NULL,
    ports              TEXT NOT NULL,
    primary_port       INTEGER NOT NULL,
    primary_raw        TEXT NOT NULL,
    variables          TEXT NOT NULL,
    internal_state     TEXT NOT NULL,
    status             TEXT NOT NULL,
    container_id       TEXT NOT NULL DEFAULT '',
    suspended          INTEGER NOT NULL DEFAULT 0,
    desired            TEXT NOT NULL,
    generation         BIGINT NOT NULL,
    applied_generation BIGINT NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL DEFAULT 0,
    install_deadline   BIGINT NOT NULL,
    last_error         TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX instances_user ON instances (user_id);
CREATE INDEX instances_node ON instances (node_id);
CREATE INDEX instances_created ON instances (created_at, id);

-- One row per published host port: the primary key is what makes two
-- instances on one node unable to share a port, whatever the race.
CREATE TABLE instance_ports (
    node_id        TEXT NOT NULL REFERENCES nodes (id),
    host_port      INTEGER NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    container_port INTEGER NOT NULL,
    PRIMARY KEY (node_id, host_port)
);
CREATE INDEX instance_ports_instance ON instance_ports (instance_id);

-- Deleted instances whose container and data still have to be removed from
-- their node; a row leaves only when the node confirms the removal.
CREATE TABLE removals (
    instance_id     TEXT PRIMARY KEY,
    node_id         TEXT NOT NULL REFERENCES nodes (id),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    ip         TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
