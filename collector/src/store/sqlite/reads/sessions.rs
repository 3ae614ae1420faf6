//! The session explorer in SQL: a page of `sessions` with its total, and a
//! journey from `sessions` and `events` (see [`crate::query::sessions`]).

use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value};

use super::filter::{Scope, on_sessions};
use crate::query::sessions::{Journey, JourneyStep, SessionPage, SessionsRequest};
use crate::query::{QueryError, Site};
use crate::store::sqlite::{SESSION_COLUMNS, session_from_row};

pub(super) fn sessions(conn: &Connection, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let clause = on_sessions(&request.filters, Scope::of(site, lo, hi));
    let mut params = vec![Value::Text(site.key.clone()), Value::Integer(lo), Value::Integer(hi)];
    params.extend(clause.params);
    let from = format!("FROM sessions s WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{}", clause.sql);

    let total = conn.prepare_cached(&format!("SELECT count(*) {from}"))?.query_row(params_from_iter(params.iter()), |r| r.get(0))?;
    let per_page = request.per_page();
    params.push(Value::Integer(per_page as i64));
    params.push(Value::Integer(request.offset() as i64));
    let sql = format!("SELECT {SESSION_COLUMNS} {from} ORDER BY s.start_ts DESC, s.id LIMIT ? OFFSET ?");
    let sessions = conn.prepare_cached(&sql)?.query_map(params_from_iter(params), session_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(SessionPage { total, page: request.page, per_page, sessions })
}

pub(super) fn journey(conn: &Connection, site: &Site, session_id: &str) -> Result<Journey, QueryError> {
    let session = conn
        .prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.site = ?1 AND s.id = ?2"))?
        .query_row(params![site.key, session_id], session_from_row)
        .optional()?;
    let events = conn
        .prepare_cached(
            "SELECT id, ts, name, path, url, title, referrer, props, engaged_ms FROM events
             WHERE site = ?1 AND session_id = ?2 ORDER BY ts, id",
        )?
        .query_map(params![site.key, session_id], |r| {
            let props: String = r.get(7)?;
            Ok(JourneyStep {
                id: r.get(0)?,
                ts: r.get(1)?,
                name: r.get(2)?,
                path: r.get(3)?,
                url: r.get(4)?,
                title: r.get(5)?,
                referrer: r.get(6)?,
                props: serde_json::from_str(&props).unwrap_or_default(),
                engaged_ms: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Journey::found(session_id, session, events)
}
