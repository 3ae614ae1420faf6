-- Version 1. Times are milliseconds since the Unix epoch, UTC.
-- No IP address is ever stored: it is used in memory for the cookieless
-- visitor key and the country lookup, then dropped.

-- One row per accepted event (bots excluded: they are counted in bot_hits).
CREATE TABLE events (
    site              TEXT    NOT NULL,
    id                TEXT    NOT NULL,   -- the sender's UUID: dedupe key
    ts                INTEGER NOT NULL,   -- skew-corrected event time
    received_ms       INTEGER NOT NULL,
    name              TEXT    NOT NULL,   -- `$pageview`, `$engagement`, … or a custom name
    session_id        TEXT    NOT NULL,   -- server-side session (sessions.id)
    client_session_id TEXT,               -- the SDK's session id, when consented
    visitor_id        TEXT    NOT NULL,   -- the SDK's visitor id, or the daily cookieless key
    user_id           TEXT,
    url               TEXT    NOT NULL,
    host              TEXT    NOT NULL DEFAULT '',
    path              TEXT    NOT NULL DEFAULT '/',
    title             TEXT,
    referrer          TEXT,
    referrer_host     TEXT,
    source            TEXT,               -- e.g. `Google`, `news.example`, `(direct)`
    medium            TEXT,               -- e.g. `organic`, `referral`, `social`, `email`, `cpc`, `(none)`
    utm_source        TEXT,
    utm_medium        TEXT,
    utm_campaign      TEXT,
    utm_term          TEXT,
    utm_content       TEXT,
    browser           TEXT,
    browser_version   TEXT,
    os                TEXT,
    device            TEXT,               -- `desktop`, `mobile`, `tablet`, `other`
    country           TEXT,               -- ISO 3166-1 alpha-2
    region            TEXT,
    city              TEXT,
    props             TEXT    NOT NULL DEFAULT '{}',  -- custom properties, a JSON object
    engaged_ms        INTEGER,
    PRIMARY KEY (site, id)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events (site, ts);
CREATE INDEX events_by_session ON events (site, session_id, ts);
CREATE INDEX events_by_visitor ON events (site, visitor_id, ts);

-- One row per session, derived from events by `sessions::sessionize`; the
-- same rule rebuilds the table from `events` (`waymark sessions rebuild`).
CREATE TABLE sessions (
    site              TEXT    NOT NULL,
    id                TEXT    NOT NULL,
    visitor_id        TEXT    NOT NULL,
    client_session_id TEXT,
    user_id           TEXT,
    start_ts          INTEGER NOT NULL,
    end_ts            INTEGER NOT NULL,
    duration_ms       INTEGER NOT NULL,
    pageviews         INTEGER NOT NULL,
    events            INTEGER NOT NULL,
    entry_path        TEXT,
    exit_path         TEXT,
    bounce            INTEGER NOT NULL,   -- 1 when the session has at most one pageview and no other interaction
    referrer_host     TEXT,
    source            TEXT,
    medium            TEXT,
    utm_source        TEXT,
    utm_medium        TEXT,
    utm_campaign      TEXT,
    utm_term          TEXT,
    utm_content       TEXT,
    browser           TEXT,
    os                TEXT,
    device            TEXT,
    country           TEXT,
    region            TEXT,
    city              TEXT,
    PRIMARY KEY (site, id)
) WITHOUT ROWID;
CREATE INDEX sessions_by_start ON sessions (site, start_ts);
CREATE INDEX sessions_by_visitor ON sessions (site, visitor_id, end_ts);

-- Bots and crawlers: counted, never turned into visits.
CREATE TABLE bot_hits (
    site              TEXT    NOT NULL,
    day               TEXT    NOT NULL,   -- YYYY-MM-DD, UTC
    bot               TEXT    NOT NULL,
    hits              INTEGER NOT NULL,
    PRIMARY KEY (site, day, bot)
) WITHOUT ROWID;

-- The secrets behind cookieless visitor keys, one per UTC day. Today's and
-- yesterday's are kept (visits span midnight); older ones are deleted, so
-- no key can be recomputed or linked across days.
CREATE TABLE salts (
    day               INTEGER PRIMARY KEY,  -- days since 1970-01-01, UTC
    secret            BLOB    NOT NULL
);
