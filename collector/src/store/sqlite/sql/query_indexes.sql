-- Version 3: the dashboard's indexes. Its queries scan a period by time;
-- these indexes carry the columns they count and filter on, so a scan reads
-- the index in time order and never looks a row up by its random id (the
-- difference between tens of milliseconds and seconds at a million events).
-- Same names and leading columns as the version 2 indexes they replace.
DROP INDEX events_by_time;
CREATE INDEX events_by_time ON events (site, ts, name, visitor_id, session_id, path, country, device, browser, os);
DROP INDEX sessions_by_start;
CREATE INDEX sessions_by_start ON sessions (
    site, start_ts, visitor_id, bounce, duration_ms, pageviews, source, medium, referrer_host, entry_path, exit_path,
    country, device, browser, os, utm_source, utm_medium, utm_campaign, utm_term, utm_content, region, city
);

-- Events and pageviews per site and quarter hour (UTC), kept by triggers as
-- events are written, so an unfiltered overview adds up a few thousand slots
-- instead of counting every event of the period. Every time zone's hours
-- and days start on a quarter hour, so these slots add up to any local
-- bucket.
CREATE TABLE event_slots (
    site              TEXT    NOT NULL,
    slot              INTEGER NOT NULL,   -- ts / 900000
    events            INTEGER NOT NULL,
    pageviews         INTEGER NOT NULL,
    PRIMARY KEY (site, slot)
) WITHOUT ROWID;
INSERT INTO event_slots (site, slot, events, pageviews)
    SELECT site, ts / 900000, count(*), sum(name = '$pageview') FROM events GROUP BY 1, 2;
CREATE TRIGGER event_slots_count_insert AFTER INSERT ON events BEGIN
    INSERT INTO event_slots (site, slot, events, pageviews) VALUES (NEW.site, NEW.ts / 900000, 1, NEW.name = '$pageview')
        ON CONFLICT (site, slot) DO UPDATE SET events = events + 1, pageviews = pageviews + excluded.pageviews;
END;
CREATE TRIGGER event_slots_count_delete AFTER DELETE ON events BEGIN
    UPDATE event_slots SET events = events - 1, pageviews = pageviews - (OLD.name = '$pageview')
        WHERE site = OLD.site AND slot = OLD.ts / 900000;
END;
CREATE TRIGGER event_slots_count_update AFTER UPDATE OF site, ts, name ON events BEGIN
    UPDATE event_slots SET events = events - 1, pageviews = pageviews - (OLD.name = '$pageview')
        WHERE site = OLD.site AND slot = OLD.ts / 900000;
    INSERT INTO event_slots (site, slot, events, pageviews) VALUES (NEW.site, NEW.ts / 900000, 1, NEW.name = '$pageview')
        ON CONFLICT (site, slot) DO UPDATE SET events = events + 1, pageviews = pageviews + excluded.pageviews;
END;
