-- A node calls the panel back (SFTP sign-ins and their re-checks) with a
-- token of its own, minted at configure. Only its SHA-256 is kept here;
-- the node holds the token. A node configured before this has none ('')
-- until it is configured again.
ALTER TABLE nodes ADD COLUMN panel_token_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX nodes_panel_token_hash ON nodes (panel_token_hash);

-- The port the node serves SFTP on, as its health reports it; 0 while it
-- serves none or has not said.
ALTER TABLE nodes ADD COLUMN sftp_port INTEGER NOT NULL DEFAULT 0;
