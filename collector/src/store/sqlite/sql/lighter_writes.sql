-- Version 4: less work per event for the writer.
--
-- `event_slots` is counted by the writer, once per quarter hour per commit,
-- instead of by a trigger on every inserted event. The trigger made each
-- insert a multi-row statement, which SQLite journals page by page in case
-- it must undo it: a quarter of the writer's time at load. Deletes and
-- updates (rare: erasure, rebuild) keep their triggers. Whoever inserts
-- into `events` other than the writer recounts with
-- `store::sqlite::recount_event_slots`.
--
-- `events_by_visitor` goes: visitor ids are random, so every event cost a
-- write to a random page of it. What ingest asked of it (a visitor's latest
-- event, whether a visitor was active around a time) `sessions_by_visitor`
-- answers, one entry per session instead of per event.
DROP TRIGGER event_slots_count_insert;
DROP INDEX events_by_visitor;

-- `sessions_by_visitor` is keyed by start instead of end: a session's start
-- never changes, so extending a session (most events) no longer moves its
-- entry. A visitor's last session is the one that starts last (its
-- sessions follow one another), and one overlaps a window when it starts
-- before the window ends and ends after it starts, as before.
DROP INDEX sessions_by_visitor;
CREATE INDEX sessions_by_visitor ON sessions (site, visitor_id, start_ts);
