-- Keyset pages of the lists (store/pages.go): each filter's equality
-- column, then the list's order (created_at, id), so that a page reads
-- only its own rows. The name index serves the name-prefix filter, which
-- is a range of it.

CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX nodes_created ON nodes (created_at, id);
CREATE INDEX instances_node_created ON instances (node_id, created_at, id);
CREATE INDEX instances_user_created ON instances (user_id, created_at, id);
CREATE INDEX instances_name ON instances (name);
