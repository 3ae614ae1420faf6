-- Version 2: `events` and `sessions` become rowid tables, same columns.
-- Their rows are large (URLs, titles, properties) and arrive with random
-- UUIDs; in a WITHOUT ROWID table each insert lands on a random leaf of the
-- table itself, in a rowid table it appends, and only the (site, id) index
-- takes the random insert. Ingest writes about twice as fast.

CREATE TABLE events_v2 (
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
    UNIQUE (site, id)
);
INSERT INTO events_v2 (site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, user_id, url, host, path, title, referrer, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, browser_version, os, device, country, region, city, props, engaged_ms)
    SELECT site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, user_id, url, host, path, title, referrer, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, browser_version, os, device, country, region, city, props, engaged_ms FROM events ORDER BY ts;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_by_time ON events (site, ts);
CREATE INDEX events_by_session ON events (site, session_id, ts);
CREATE INDEX events_by_visitor ON events (site, visitor_id, ts);

CREATE TABLE sessions_v2 (
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
    UNIQUE (site, id)
);
INSERT INTO sessions_v2 (site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms, pageviews, events, entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, os, device, country, region, city)
    SELECT site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms, pageviews, events, entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, os, device, country, region, city FROM sessions ORDER BY start_ts;
DROP TABLE sessions;
ALTER TABLE sessions_v2 RENAME TO sessions;
CREATE INDEX sessions_by_start ON sessions (site, start_ts);
CREATE INDEX sessions_by_visitor ON sessions (site, visitor_id, end_ts);
