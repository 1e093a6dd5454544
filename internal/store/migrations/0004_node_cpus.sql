-- The CPU cores a node reports in its health, so that a deploy asking for
-- more is refused at once; 0 until the node first reports.
ALTER TABLE nodes ADD COLUMN cpus INTEGER NOT NULL DEFAULT 0;
