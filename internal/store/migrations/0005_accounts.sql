-- Accounts (DESIGN §8): sessions, personal access tokens, two-factor,
-- recovery codes, SSH keys, and the failed sign-ins that throttling counts.
-- Secrets are kept only as hashes, save the TOTP secret, which the code
-- check needs as it is. A user's rows go with the user.

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL,
    address      TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE access_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    read_only    INTEGER NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX access_tokens_token_hash ON access_tokens (token_hash);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

-- A row exists from setup on; enabled turns 1 with the first good code.
-- last_step is the newest TOTP step used, so that no code works twice.
CREATE TABLE two_factor (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 0,
    last_step  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE ssh_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX ssh_keys_user_fingerprint ON ssh_keys (user_id, fingerprint);

-- One row per failed sign-in and scope (an account, an address), in the
-- database so that several panels on one PostgreSQL count together.
CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX login_failures_scope ON login_failures (scope, at);
CREATE INDEX login_failures_at ON login_failures (at);
