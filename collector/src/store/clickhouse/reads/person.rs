//! One person's export in ClickHouse SQL: their visitors (resolved by
//! `clickhouse::identity`, as erasure resolves them), their sessions by
//! start and their events in (time, id) order.

use crate::query::person::{PersonData, is_person};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::{Client, lit, lits};
use crate::store::clickhouse::identity::{VisitorRow, visitors_sql};
use crate::store::clickhouse::rows::{EVENT_COLUMNS, LIVE_SESSIONS, SESSION_COLUMNS, SessionRow};
use crate::store::lifecycle::Selector;

pub(super) async fn person(client: &Client, site: &Site, selector: &Selector) -> Result<PersonData, QueryError> {
    if !is_person(selector) {
        return Err(QueryError::BadRequest("export names one person: a visitor, a user or a session".into()));
    }
    let visitors: Vec<String> =
        client.rows::<VisitorRow>(&visitors_sql(&site.key, selector)).await?.into_iter().map(|r| r.visitor_id).collect();
    if visitors.is_empty() {
        return Ok(PersonData { site: site.key.clone(), visitors, sessions: Vec::new(), events: Vec::new() });
    }
    let whose = format!("site = {} AND visitor_id IN {}", lit(&site.key), lits(visitors.iter().map(String::as_str)));
    let sessions: Vec<SessionRow> =
        client.rows(&format!("SELECT {SESSION_COLUMNS} FROM {LIVE_SESSIONS} AND {whose} ORDER BY start_ts, id")).await?;
    let events = client.rows(&format!("SELECT {EVENT_COLUMNS} FROM events FINAL WHERE {whose} ORDER BY ts, id")).await?;
    let sessions = sessions.into_iter().map(SessionRow::into_session).collect();
    Ok(PersonData { site: site.key.clone(), visitors, sessions, events })
}
