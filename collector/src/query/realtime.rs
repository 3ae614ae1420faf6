//! Right now: visitors seen in the last five minutes, and events and
//! active sessions per minute over the last hour. Counted from `events`
//! alone, so it is exact the moment an event is committed.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::table::Table;
use super::{QueryError, Site};

/// A visitor is "active" when they sent an event this recently.
pub const ACTIVE_WINDOW_MS: i64 = 5 * 60_000;
/// Minutes in the per-minute series.
pub const MINUTES: i64 = 60;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Minute {
    /// Start of the minute, ms UTC.
    pub start_ms: i64,
    pub events: i64,
    /// Sessions with at least one event in this minute.
    pub sessions: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Realtime {
    pub now_ms: i64,
    pub active_visitors: i64,
    /// Oldest first; the last is the current, partial minute.
    pub minutes: Vec<Minute>,
}

pub fn realtime(conn: &Connection, site: &Site, now_ms: i64) -> Result<Realtime, QueryError> {
    let active_visitors = conn
        .prepare_cached("SELECT count(DISTINCT visitor_id) FROM events WHERE site = ?1 AND ts > ?2 AND ts <= ?3")?
        .query_row(params![site.key, now_ms - ACTIVE_WINDOW_MS, now_ms], |r| r.get(0))?;

    let first = (now_ms / 60_000 - (MINUTES - 1)) * 60_000;
    let mut minutes: Vec<Minute> = (0..MINUTES).map(|i| Minute { start_ms: first + i * 60_000, ..Minute::default() }).collect();
    let mut stmt = conn.prepare_cached(
        "SELECT (ts - ?2) / 60000, count(*), count(DISTINCT session_id) FROM events
         WHERE site = ?1 AND ts >= ?2 AND ts <= ?3 GROUP BY 1",
    )?;
    let mut rows = stmt.query(params![site.key, first, now_ms])?;
    while let Some(row) = rows.next()? {
        let index: i64 = row.get(0)?;
        if let Some(minute) = usize::try_from(index).ok().and_then(|i| minutes.get_mut(i)) {
            (minute.events, minute.sessions) = (row.get(1)?, row.get(2)?);
        }
    }
    Ok(Realtime { now_ms, active_visitors, minutes })
}

impl Table for Realtime {
    fn columns(&self) -> Vec<&'static str> {
        vec!["minute_start_ms", "events", "sessions", "active_visitors"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.minutes
            .iter()
            .map(|m| vec![m.start_ms.to_string(), m.events.to_string(), m.sessions.to_string(), self.active_visitors.to_string()])
            .collect()
    }
}
