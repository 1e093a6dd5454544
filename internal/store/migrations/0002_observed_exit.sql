-- What the node last observed of an instance beyond its power status: the
-- exit code of its last run, whether the kernel killed it for memory, and
-- the node's own explanation (a crash loop, the disk limit).
ALTER TABLE instances ADD COLUMN exit_code INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN node_error TEXT NOT NULL DEFAULT '';
