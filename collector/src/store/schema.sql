-- Version 1. Times are milliseconds since the Unix epoch, UTC.
-- No IP address is ever stored.
CREATE TABLE events (
    site              TEXT    NOT NULL,
    id                TEXT    NOT NULL,
    ts                INTEGER NOT NULL,
    received_ms       INTEGER NOT NULL,
    name              TEXT    NOT NULL,
    session_id        TEXT    NOT NULL,
    client_session_id TEXT,
    visitor_id        TEXT    NOT NULL,
    user_id           TEXT,
    url               TEXT    NOT NULL,
    host              TEXT    NOT NULL DEFAULT '',
    path              TEXT    NOT NULL DEFAULT '/',
    referrer          TEXT,
    title             TEXT,
    props             TEXT    NOT NULL DEFAULT '{}',
    engaged_ms        INTEGER,
    PRIMARY KEY (site, id)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events (site, ts);
CREATE INDEX events_by_session ON events (site, session_id, ts);

CREATE TABLE sessions (
    site              TEXT    NOT NULL,
    id                TEXT    NOT NULL,
    visitor_id        TEXT    NOT NULL,
    start_ts          INTEGER NOT NULL,
    end_ts            INTEGER NOT NULL,
    pageviews         INTEGER NOT NULL,
    events            INTEGER NOT NULL,
    entry_path        TEXT,
    exit_path         TEXT,
    PRIMARY KEY (site, id)
) WITHOUT ROWID;
CREATE INDEX sessions_by_start ON sessions (site, start_ts);
