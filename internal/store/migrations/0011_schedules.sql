-- Schedules (DESIGN §12): an instance's cron jobs. Times are Unix
-- milliseconds; next_run_at is 0 when the schedule is not to run (disabled,
-- or a cron that names no time ahead). The runner claims a run by moving
-- next_run_at from the value it read (UPDATE ... WHERE next_run_at = ?), so
-- one panel runs it. tasks is the ordered list as JSON:
-- [{"action", "payload", "offsetSeconds"}]. A schedule goes with its instance.
CREATE TABLE schedules (
    id               TEXT PRIMARY KEY,
    instance_id      TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    cron             TEXT NOT NULL,
    timezone         TEXT NOT NULL,
    enabled          INTEGER NOT NULL,
    only_when_online INTEGER NOT NULL,
    tasks            TEXT NOT NULL,
    next_run_at      BIGINT NOT NULL,
    last_run_at      BIGINT NOT NULL DEFAULT 0,
    last_result      TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);
CREATE INDEX schedules_instance ON schedules (instance_id, created_at);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1 AND next_run_at > 0;
