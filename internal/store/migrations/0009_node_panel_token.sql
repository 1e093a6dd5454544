-- A node calls the panel back (SFTP sign-ins and their re-checks) with a
-- token of its own, minted at configure. Only its SHA-256 is kept here;
-- the node holds the token. A node configured before this has none ('')
-- until it is configured again.
ALTER TABLE nodes ADD COLUMN panel_token_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX nodes_panel_token_hash ON nodes (panel_token_hash);
