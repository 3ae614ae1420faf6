-- Version 9: `sessions_by_start` carries each session's event count too, so
-- an overview filtered by whole sessions (a segment, a source, an entry
-- page…) adds up its sessions' events from the index, without a table
-- lookup per session. Same name, same columns plus `events`.
DROP INDEX sessions_by_start;
CREATE INDEX sessions_by_start ON sessions (
    site, start_ts, visitor_id, bounce, duration_ms, pageviews, events, source, medium, referrer_host, entry_path, exit_path,
    country, device, browser, os, utm_source, utm_medium, utm_campaign, utm_term, utm_content, region, city
);
