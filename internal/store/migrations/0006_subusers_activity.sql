-- Subusers: a user granted some of the ten permissions on an instance it
-- does not own. The grant goes with the instance or the user.
CREATE TABLE subusers (
    instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The granted permissions, space-separated, in access.All's order.
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (instance_id, user_id)
);
CREATE INDEX subusers_user ON subusers (user_id);

-- The audit log becomes the activity log: beside the credential, who
-- acted (the kind of credential and its user), which instance was changed
-- (NULL for a change of no instance) and what else is worth knowing of the
-- change. Rows written before this migration were all an API key's.
ALTER TABLE audit_log RENAME COLUMN key_id TO credential_id;
ALTER TABLE audit_log ADD COLUMN actor_kind TEXT NOT NULL DEFAULT 'key';
ALTER TABLE audit_log ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN instance_id TEXT;
ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET instance_id = target WHERE action LIKE 'instance.%';
-- Pages are read newest first, by time and id: of one instance, or of all.
CREATE INDEX audit_log_instance ON audit_log (instance_id, created_at, id);
CREATE INDEX audit_log_created_id ON audit_log (created_at, id);
DROP INDEX audit_log_created;
