-- Version 5: the data lifecycle (retention, erasure, export).
--
-- `audit_log` records each erasure and each retention run that removed
-- rows: when, which site, what kind of request, how many rows, and who
-- asked (a dashboard user's name, "cli", a token's label, "retention").
-- It never holds the person's ids: `kind` says which sort of id was
-- given, not which one.
CREATE TABLE audit_log (
    at_ms             INTEGER NOT NULL,   -- when the request was carried out
    site              TEXT    NOT NULL,
    kind              TEXT    NOT NULL,   -- `visitor`, `user`, `session`, `site` or `retention`
    rows_removed      INTEGER NOT NULL,   -- events and sessions deleted
    requested_by      TEXT    NOT NULL
);
CREATE INDEX audit_by_site ON audit_log (site, at_ms);

-- Erasure and export by user id find that user's visitors here. Partial:
-- events without a user id (most) cost ingest nothing.
CREATE INDEX events_by_user ON events (site, user_id) WHERE user_id IS NOT NULL;
