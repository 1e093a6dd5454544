-- The node `berth up` registers for its own machine is marked, and at most
-- one node may carry the mark: creating it is then one INSERT that a crash
-- cannot leave half-done and a second start cannot repeat.
ALTER TABLE nodes ADD COLUMN is_local INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX nodes_local ON nodes (is_local) WHERE is_local = 1;
