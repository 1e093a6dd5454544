-- Webhooks (DESIGN §12): an instance's (instance_id set) or global ones
-- (instance_id NULL, admins'), and the durable queue and log of their
-- deliveries.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    instance_id TEXT REFERENCES instances (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- The subscribed events, space-separated, in the order of webhook.Events.
    events      TEXT NOT NULL,
    format      TEXT NOT NULL,
    -- The HMAC-SHA256 key, kept as it was generated: signing needs the key
    -- itself, so a hash cannot serve, and encrypting it with a key kept
    -- beside this database would protect nothing the database's own access
    -- rules do not (nodes.token is kept so for the same reason).
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- The user or API key that created it.
    created_by  TEXT NOT NULL
);
CREATE INDEX webhooks_instance ON webhooks (instance_id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    -- The event as JSON: {"event", "instance"?, "node"?, "at", "data"}.
    body            TEXT NOT NULL,
    -- pending, delivered or failed.
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When a pending delivery is due; a worker that claims it moves it to
    -- the end of its lease, so a panel killed mid-delivery leaves it due
    -- again later rather than lost.
    next_attempt_at BIGINT NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT NOT NULL DEFAULT 0
);
-- The workers' due query: pending rows by time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
-- A webhook's log, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at, id);
