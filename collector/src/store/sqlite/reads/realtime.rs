//! Realtime in SQL: both counts over the events' time index, never the
//! sessions table (see [`crate::query::realtime`]); filters as
//! [`super::filter::on_events`] writes them.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::filter::{Scope, on_events, scope_params};
use crate::query::realtime::{ACTIVE_WINDOW_MS, Realtime, RealtimeRequest, first_minute_ms};
use crate::query::{QueryError, Site};

pub(super) fn realtime(conn: &Connection, site: &Site, request: &RealtimeRequest) -> Result<Realtime, QueryError> {
    let now_ms = request.now_ms;
    let mut answer = Realtime::empty(now_ms);
    // The window is `(now - 5 min, now]`, the minutes `[first, now]`.
    let active = Scope::of(site, now_ms - ACTIVE_WINDOW_MS + 1, now_ms + 1);
    let clause = on_events(&request.filters, active);
    answer.active_visitors = conn
        .prepare_cached(&format!("SELECT count(DISTINCT e.visitor_id) FROM events e WHERE e.site = ? AND e.ts >= ? AND e.ts < ?{}", clause.sql))?
        .query_row(params_from_iter(scope_params(active.site, active.lo, active.hi).into_iter().chain(clause.params)), |r| r.get(0))?;

    let minutes = Scope::of(site, first_minute_ms(now_ms), now_ms + 1);
    let clause = on_events(&request.filters, minutes);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT (e.ts - ?) / 60000, count(*), count(DISTINCT e.session_id) FROM events e
         WHERE e.site = ? AND e.ts >= ? AND e.ts < ?{} GROUP BY 1",
        clause.sql
    ))?;
    let params = [Value::Integer(minutes.lo)].into_iter().chain(scope_params(minutes.site, minutes.lo, minutes.hi)).chain(clause.params);
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        if let Some(minute) = answer.minute_mut(row.get(0)?) {
            (minute.events, minute.sessions) = (row.get(1)?, row.get(2)?);
        }
    }
    Ok(answer)
}
