//! Rows: how events and sessions map to SQLite's tables and back, and the
//! statements that write them. The one place that lists their columns.

use rusqlite::{Connection, Row, params};

use crate::event::StoredEvent;
use crate::sessions::Session;

pub const SESSION_COLUMNS: &str = "site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms, pageviews, events,
    entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium, utm_campaign,
    utm_term, utm_content, browser, os, device, country, region, city";

/// The statements that store an event: plain, and one that skips an id the
/// site has stored already (the insert then reports no row).
pub(super) static INSERT_EVENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ({})", placeholders(31)));
pub(super) static INSERT_EVENT_UNLESS_STORED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} ON CONFLICT (site, id) DO NOTHING", *INSERT_EVENT));

pub(super) const EVENT_COLUMNS: &str = "site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, user_id, url, host, path,
    title, referrer, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
    browser, browser_version, os, device, country, region, city, props, engaged_ms";

/// Writes what [`crate::sessions::extend`] changes of a stored session, in place:
/// its row and the index entries keyed by its id stay where they are. A
/// session that is not there (which would be a bug in what the writer
/// remembers) is written whole rather than lost.
pub(super) fn update_session(tx: &Connection, s: &Session) -> rusqlite::Result<()> {
    let updated = tx.prepare_cached(
        "UPDATE sessions SET client_session_id = ?3, user_id = ?4, end_ts = ?5, duration_ms = ?6, pageviews = ?7,
            events = ?8, entry_path = ?9, exit_path = ?10, bounce = ?11
         WHERE site = ?1 AND id = ?2",
    )?
    .execute(params![
        s.site, s.id, s.client_session_id, s.user_id, s.end_ts, s.duration_ms, s.pageviews, s.events, s.entry_path,
        s.exit_path, s.bounce
    ])?;
    if updated == 0 {
        tracing::warn!(session = %s.id, "an extended session was not stored; writing it whole");
        insert_session(tx, s)?;
    }
    Ok(())
}

pub(super) fn insert_session(tx: &Connection, s: &Session) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO sessions (site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms,
            pageviews, events, entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium,
            utm_campaign, utm_term, utm_content, browser, os, device, country, region, city)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
    )?
    .execute(params![
        s.site, s.id, s.visitor_id, s.client_session_id, s.user_id, s.start_ts, s.end_ts, s.duration_ms, s.pageviews,
        s.events, s.entry_path, s.exit_path, s.bounce, s.referrer_host, s.source, s.medium, s.utm_source, s.utm_medium,
        s.utm_campaign, s.utm_term, s.utm_content, s.browser, s.os, s.device, s.country, s.region, s.city
    ])?;
    Ok(())
}

/// The width of an `event_slots` slot: a quarter hour, in ms.
pub const SLOT_MS: i64 = 15 * 60_000;

/// Counts `event_slots` anew from `events`: for whoever writes events
/// other than the writer (seeding a store in tests and benchmarks).
pub fn recount_event_slots(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "DELETE FROM event_slots;
         INSERT INTO event_slots (site, slot, events, pageviews)
             SELECT site, ts / {SLOT_MS}, count(*), sum(name = '$pageview') FROM events GROUP BY 1, 2;"
    ))
}

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

pub(super) fn event_from_row(r: &Row) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        site: r.get(0)?,
        id: r.get(1)?,
        ts: r.get(2)?,
        received_ms: r.get(3)?,
        name: r.get(4)?,
        session_id: r.get(5)?,
        client_session_id: r.get(6)?,
        visitor_id: r.get(7)?,
        visitor_id_yesterday: None,
        user_id: r.get(8)?,
        url: r.get(9)?,
        host: r.get(10)?,
        path: r.get(11)?,
        title: r.get(12)?,
        referrer: r.get(13)?,
        referrer_host: r.get(14)?,
        source: r.get(15)?,
        medium: r.get(16)?,
        utm_source: r.get(17)?,
        utm_medium: r.get(18)?,
        utm_campaign: r.get(19)?,
        utm_term: r.get(20)?,
        utm_content: r.get(21)?,
        browser: r.get(22)?,
        browser_version: r.get(23)?,
        os: r.get(24)?,
        device: r.get(25)?,
        country: r.get(26)?,
        region: r.get(27)?,
        city: r.get(28)?,
        props: r.get(29)?,
        engaged_ms: r.get(30)?,
    })
}

pub fn session_from_row(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session {
        site: r.get(0)?,
        id: r.get(1)?,
        visitor_id: r.get(2)?,
        client_session_id: r.get(3)?,
        user_id: r.get(4)?,
        start_ts: r.get(5)?,
        end_ts: r.get(6)?,
        duration_ms: r.get(7)?,
        pageviews: r.get(8)?,
        events: r.get(9)?,
        entry_path: r.get(10)?,
        exit_path: r.get(11)?,
        bounce: r.get(12)?,
        referrer_host: r.get(13)?,
        source: r.get(14)?,
        medium: r.get(15)?,
        utm_source: r.get(16)?,
        utm_medium: r.get(17)?,
        utm_campaign: r.get(18)?,
        utm_term: r.get(19)?,
        utm_content: r.get(20)?,
        browser: r.get(21)?,
        os: r.get(22)?,
        device: r.get(23)?,
        country: r.get(24)?,
        region: r.get(25)?,
        city: r.get(26)?,
    })
}


/// Stores new events; with `unless_stored`, it stops at an event whose id
/// the site holds already, and the answer is false.
pub(super) fn insert_events<'e>(
    tx: &Connection,
    events: impl Iterator<Item = &'e StoredEvent>,
    unless_stored: bool,
) -> rusqlite::Result<bool> {
    let mut insert = tx.prepare_cached(if unless_stored { &INSERT_EVENT_UNLESS_STORED } else { &INSERT_EVENT })?;
    for e in events {
        let inserted = insert.execute(params![
            e.site, e.id, e.ts, e.received_ms, e.name, e.session_id, e.client_session_id, e.visitor_id, e.user_id, e.url,
            e.host, e.path, e.title, e.referrer, e.referrer_host, e.source, e.medium, e.utm_source, e.utm_medium,
            e.utm_campaign, e.utm_term, e.utm_content, e.browser, e.browser_version, e.os, e.device, e.country, e.region,
            e.city, e.props, e.engaged_ms
        ])?;
        if inserted == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Moves a stored event to another session.
pub(super) fn move_event(tx: &Connection, site: &str, id: &str, session_id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE events SET session_id = ?3 WHERE site = ?1 AND id = ?2")?.execute(params![site, id, session_id])?;
    Ok(())
}

pub(super) fn delete_session(tx: &Connection, site: &str, id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM sessions WHERE site = ?1 AND id = ?2")?.execute(params![site, id])?;
    Ok(())
}
