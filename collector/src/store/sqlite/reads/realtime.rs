//! Realtime in SQL: both counts over the events' time index, never the
//! sessions table (see [`crate::query::realtime`]).

use rusqlite::{Connection, params};

use crate::query::realtime::{ACTIVE_WINDOW_MS, Realtime, first_minute_ms};
use crate::query::{QueryError, Site};

pub(super) fn realtime(conn: &Connection, site: &Site, now_ms: i64) -> Result<Realtime, QueryError> {
    let mut answer = Realtime::empty(now_ms);
    answer.active_visitors = conn
        .prepare_cached("SELECT count(DISTINCT visitor_id) FROM events WHERE site = ?1 AND ts > ?2 AND ts <= ?3")?
        .query_row(params![site.key, now_ms - ACTIVE_WINDOW_MS, now_ms], |r| r.get(0))?;

    let first = first_minute_ms(now_ms);
    let mut stmt = conn.prepare_cached(
        "SELECT (ts - ?2) / 60000, count(*), count(DISTINCT session_id) FROM events
         WHERE site = ?1 AND ts >= ?2 AND ts <= ?3 GROUP BY 1",
    )?;
    let mut rows = stmt.query(params![site.key, first, now_ms])?;
    while let Some(row) = rows.next()? {
        if let Some(minute) = answer.minute_mut(row.get(0)?) {
            (minute.events, minute.sessions) = (row.get(1)?, row.get(2)?);
        }
    }
    Ok(answer)
}
