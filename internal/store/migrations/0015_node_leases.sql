-- Which panel drives each node: several panels may share one PostgreSQL,
-- and exactly one of them reconciles a node at a time. A panel renews its
-- leases every few seconds; one whose lease ran out (its panel died) is
-- taken by another. lease_holder is '' for a node nobody drives.
ALTER TABLE nodes ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN lease_address TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN lease_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN lease_expires BIGINT NOT NULL DEFAULT 0;
CREATE INDEX nodes_lease_holder ON nodes (lease_holder);
