-- Version 7: the identity link log (see `crate::identity`).
--
-- One row per site, visitor and user id the visitor's events carried,
-- with the earliest such event: appended by the writer as events arrive,
-- never by rewriting events. Reads resolve it when they run. Filled here
-- from the events stored before it existed.
CREATE TABLE identity_links (
    site              TEXT    NOT NULL,
    visitor_id        TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    ts                INTEGER NOT NULL,   -- the earliest event of the visitor carrying the user id
    event_id          TEXT    NOT NULL,
    PRIMARY KEY (site, visitor_id, user_id)
) WITHOUT ROWID;
CREATE INDEX identity_links_by_user ON identity_links (site, user_id);

-- SQLite takes the bare columns of a `min()` aggregate from its row.
INSERT INTO identity_links (site, visitor_id, user_id, ts, event_id)
    SELECT site, visitor_id, user_id, min(ts), id FROM events
    WHERE user_id IS NOT NULL AND user_id != '' GROUP BY site, visitor_id, user_id;
