//! The session explorer in ClickHouse SQL: a page of live sessions with
//! its total, and a journey from sessions and events (see
//! [`crate::query::sessions`]).

use super::filter::{Scope, on_sessions, sessions_in};
use crate::query::sessions::{Journey, JourneyStep, SessionPage, SessionsRequest};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::{Client, lit};
use crate::store::clickhouse::rows::{SESSION_COLUMNS, SessionRow, session_queries};

#[derive(serde::Deserialize)]
pub(super) struct Total {
    pub total: i64,
}

pub(super) async fn sessions(client: &Client, site: &Site, request: &SessionsRequest) -> Result<SessionPage, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let scope = Scope::of(site, lo, hi);
    let from = format!("{}{}", sessions_in(scope.site, lo, hi), on_sessions(&request.filters, scope));
    let total: Vec<Total> = client.rows(&format!("SELECT toInt64(count()) AS total FROM {from}")).await?;
    let per_page = request.per_page();
    let rows: Vec<SessionRow> = client
        .rows(&format!("SELECT {SESSION_COLUMNS} FROM {from} ORDER BY start_ts DESC, id LIMIT {}, {per_page}", request.offset()))
        .await?;
    let sessions = rows.into_iter().map(SessionRow::into_session).collect();
    Ok(SessionPage { total: total.first().map_or(0, |t| t.total), page: request.page, per_page, sessions })
}

#[derive(serde::Deserialize)]
struct Step {
    id: String,
    ts: i64,
    name: String,
    path: String,
    url: String,
    title: Option<String>,
    referrer: Option<String>,
    props: String,
    engaged_ms: Option<i64>,
}

pub(super) async fn journey(client: &Client, site: &Site, session_id: &str) -> Result<Journey, QueryError> {
    let (key, id) = (lit(&site.key), lit(session_id));
    let mut session = None;
    for sql in session_queries(&site.key, session_id) {
        session = client.rows::<SessionRow>(&sql).await?.into_iter().next();
        if session.is_some() {
            break;
        }
    }
    let session = session.map(SessionRow::into_session);
    // A session's events lie between its start and its end (events
    // without their session, of a failed insert, anywhere).
    let during = session.as_ref().map_or(String::new(), |s| format!(" AND ts >= {} AND ts <= {}", s.start_ts, s.end_ts));
    let steps: Vec<Step> = client
        .rows(&format!(
            "SELECT id, ts, name, path, url, title, referrer, props, engaged_ms FROM events FINAL
             WHERE site = {key}{during} AND session_id = {id} ORDER BY ts, id"
        ))
        .await?;
    let events = steps
        .into_iter()
        .map(|s| JourneyStep {
            id: s.id,
            ts: s.ts,
            name: s.name,
            path: s.path,
            url: s.url,
            title: s.title,
            referrer: s.referrer,
            props: serde_json::from_str(&s.props).unwrap_or_default(),
            engaged_ms: s.engaged_ms,
        })
        .collect();
    Journey::found(session_id, session, events)
}
