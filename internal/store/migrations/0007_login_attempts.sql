-- A sign-in check is recorded as a failure before it runs, under the id
-- of its attempt, and the row is deleted by that id when the check
-- passes: counted first, parallel attempts cannot all pass the throttle.
-- Rows written before this migration are failures of no attempt ('').
ALTER TABLE login_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_attempt ON login_failures (attempt);
