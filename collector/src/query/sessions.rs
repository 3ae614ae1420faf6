//! The session explorer: sessions of a period, newest first, a page at a
//! time; and one session's journey, its events in the order they happened.

use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value};
use serde::Serialize;

use super::filter::{Filter, Scope, on_sessions};
use super::period::Period;
use super::table::{Table, cell};
use super::{QueryError, Site};
use crate::sessions::Session;
use crate::store::sqlite::{SESSION_COLUMNS, session_from_row};

/// Sessions one page holds at most.
pub const MAX_PER_PAGE: usize = 200;

#[derive(Debug, Clone)]
pub struct SessionsRequest {
    pub period: Period,
    pub filters: Vec<Filter>,
    /// Zero-based.
    pub page: usize,
    pub per_page: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionPage {
    pub total: i64,
    pub page: usize,
    pub per_page: usize,
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyStep {
    pub id: String,
    pub ts: i64,
    pub name: String,
    pub path: String,
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    /// The event's custom properties, a JSON object.
    pub props: serde_json::Value,
    pub engaged_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journey {
    /// Missing while the session's row is not yet derived.
    pub session: Option<Session>,
    pub events: Vec<JourneyStep>,
}

pub fn sessions(conn: &Connection, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let clause = on_sessions(&request.filters, Scope { site: &site.key, lo, hi });
    let mut params = vec![Value::Text(site.key.clone()), Value::Integer(lo), Value::Integer(hi)];
    params.extend(clause.params);
    let from = format!("FROM sessions s WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{}", clause.sql);

    let total = conn.prepare_cached(&format!("SELECT count(*) {from}"))?.query_row(params_from_iter(params.iter()), |r| r.get(0))?;
    let per_page = request.per_page.clamp(1, MAX_PER_PAGE);
    params.push(Value::Integer(per_page as i64));
    params.push(Value::Integer((request.page * per_page) as i64));
    let sql = format!("SELECT {SESSION_COLUMNS} {from} ORDER BY s.start_ts DESC, s.id LIMIT ? OFFSET ?");
    let sessions = conn.prepare_cached(&sql)?.query_map(params_from_iter(params), session_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(SessionPage { total, page: request.page, per_page, sessions })
}

pub fn journey(conn: &Connection, site: &Site, session_id: &str) -> Result<Journey, QueryError> {
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
    if session.is_none() && events.is_empty() {
        return Err(QueryError::SessionNotFound(session_id.to_owned()));
    }
    Ok(Journey { session, events })
}

impl Table for SessionPage {
    fn columns(&self) -> Vec<&'static str> {
        vec![
            "id", "visitor_id", "user_id", "start_ts", "end_ts", "duration_ms", "pageviews", "events", "entry_path",
            "exit_path", "bounce", "source", "referrer_host", "country", "device", "browser", "os",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.sessions
            .iter()
            .map(|s| {
                vec![
                    s.id.clone(), s.visitor_id.clone(), cell(&s.user_id), s.start_ts.to_string(), s.end_ts.to_string(),
                    s.duration_ms.to_string(), s.pageviews.to_string(), s.events.to_string(), cell(&s.entry_path),
                    cell(&s.exit_path), u8::from(s.bounce).to_string(), cell(&s.source), cell(&s.referrer_host),
                    cell(&s.country), cell(&s.device), cell(&s.browser), cell(&s.os),
                ]
            })
            .collect()
    }
}

impl Table for Journey {
    fn columns(&self) -> Vec<&'static str> {
        vec!["id", "ts", "name", "path", "url", "title", "referrer", "props", "engaged_ms"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.events
            .iter()
            .map(|e| {
                vec![
                    e.id.clone(), e.ts.to_string(), e.name.clone(), e.path.clone(), e.url.clone(), cell(&e.title),
                    cell(&e.referrer), e.props.to_string(), cell(&e.engaged_ms),
                ]
            })
            .collect()
    }
}
