-- Version 5: the dashboard's accounts.
--
-- Dashboard users added at run time (`waymark users`, the dashboard's
-- Users view) and sign-in sessions, stored as the BLAKE3 hash of their
-- token. Users from the config file live there, not here.
CREATE TABLE dashboard_users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    -- JSON: "all", or an array of site keys.
    sites TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE dashboard_sessions (
    token_hash BLOB PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX dashboard_sessions_by_user ON dashboard_sessions (user_name);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_ms);
