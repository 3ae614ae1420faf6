//! Rows: how events and sessions map to ClickHouse's tables and back.
//! The one place that lists their columns. Each written row carries a
//! `version` (see `schema`): the writer's [`Versions`] gives every row it
//! writes a higher one than any before.

use serde::{Deserialize, Serialize};

use super::client::lit;
use super::db::Db;
use super::schema::start_days;
use crate::event::StoredEvent;
use crate::sessions::Session;
use crate::store::StoreError;

pub const EVENT_COLUMNS: &str = "site, id, ts, received_ms, name, session_id, client_session_id, visitor_id, user_id, url, host, path,
    title, referrer, referrer_host, source, medium, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
    browser, browser_version, os, device, country, region, city, props, engaged_ms";

pub const SESSION_COLUMNS: &str = "site, id, visitor_id, client_session_id, user_id, start_ts, end_ts, duration_ms, pageviews, events,
    entry_path, exit_path, bounce, referrer_host, source, medium, utm_source, utm_medium, utm_campaign,
    utm_term, utm_content, browser, os, device, country, region, city";

/// Live sessions: the latest version of each, unless that is a tombstone.
pub const LIVE_SESSIONS: &str = "sessions FINAL WHERE deleted = 0";

/// The queries that find the live session `id` of `site`, to try in
/// order: first on the day its id says it started (ids made by
/// `sessions::session_id` begin with the start, as UUID v7 timestamps),
/// which reads one day of the table; then anywhere, for an id made
/// otherwise.
pub fn session_queries(site: &str, id: &str) -> Vec<String> {
    let anywhere = format!("SELECT {SESSION_COLUMNS} FROM {LIVE_SESSIONS} AND site = {} AND id = {}", lit(site), lit(id));
    match start_of_id(id) {
        Some(start) => vec![format!("{anywhere} AND {}", start_days(start, start)), anywhere],
        None => vec![anywhere],
    }
}

/// The start a UUID v7-shaped session id carries, in milliseconds.
fn start_of_id(id: &str) -> Option<i64> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    let bytes = uuid.as_bytes();
    (uuid.get_version_num() == 7).then(|| bytes[..6].iter().fold(0i64, |ms, &b| ms << 8 | i64::from(b)))
}

/// The live session `id` of `site`, if it is stored.
pub fn session_by_id(db: &Db, site: &str, id: &str) -> Result<Option<SessionRow>, StoreError> {
    for sql in session_queries(site, id) {
        if let Some(row) = db.rows::<SessionRow>(&sql)?.into_iter().next() {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Row versions that only grow: microseconds of the wall clock, or one
/// more than the last when the clock has not moved on (or went back).
#[derive(Debug, Default)]
pub struct Versions {
    last: u64,
}

impl Versions {
    pub fn next(&mut self) -> u64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        self.last = now.max(self.last + 1);
        self.last
    }
}

/// An event as written: its columns and its version.
#[derive(Serialize)]
pub struct EventWrite<'a> {
    #[serde(flatten)]
    pub event: &'a StoredEvent,
    pub version: u64,
}

/// A session's row, as written and read (`bounce` is a `UInt8`).
#[derive(Serialize, Deserialize, Default)]
pub struct SessionRow {
    pub site: String,
    pub id: String,
    pub visitor_id: String,
    pub client_session_id: Option<String>,
    pub user_id: Option<String>,
    pub start_ts: i64,
    pub end_ts: i64,
    pub duration_ms: i64,
    pub pageviews: i64,
    pub events: i64,
    pub entry_path: Option<String>,
    pub exit_path: Option<String>,
    pub bounce: u8,
    pub referrer_host: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    #[serde(skip_deserializing)]
    pub version: u64,
    #[serde(skip_deserializing)]
    pub deleted: u8,
}

impl SessionRow {
    pub fn live(s: &Session, version: u64) -> SessionRow {
        let s = s.clone();
        SessionRow {
            site: s.site,
            id: s.id,
            visitor_id: s.visitor_id,
            client_session_id: s.client_session_id,
            user_id: s.user_id,
            start_ts: s.start_ts,
            end_ts: s.end_ts,
            duration_ms: s.duration_ms,
            pageviews: s.pageviews,
            events: s.events,
            entry_path: s.entry_path,
            exit_path: s.exit_path,
            bounce: u8::from(s.bounce),
            referrer_host: s.referrer_host,
            source: s.source,
            medium: s.medium,
            utm_source: s.utm_source,
            utm_medium: s.utm_medium,
            utm_campaign: s.utm_campaign,
            utm_term: s.utm_term,
            utm_content: s.utm_content,
            browser: s.browser,
            os: s.os,
            device: s.device,
            country: s.country,
            region: s.region,
            city: s.city,
            version,
            deleted: 0,
        }
    }

    /// The row that deletes the session `id`: a later version marked
    /// deleted under its key (its start's day and its visitor), with its
    /// visitor, so that erasing the visitor removes the tombstone too.
    pub fn tombstone(site: &str, id: &str, visitor_id: &str, start_ts: i64, version: u64) -> SessionRow {
        SessionRow { site: site.into(), id: id.into(), visitor_id: visitor_id.into(), start_ts, version, deleted: 1, ..SessionRow::default() }
    }

    pub fn into_session(self) -> Session {
        Session {
            site: self.site,
            id: self.id,
            visitor_id: self.visitor_id,
            client_session_id: self.client_session_id,
            user_id: self.user_id,
            start_ts: self.start_ts,
            end_ts: self.end_ts,
            duration_ms: self.duration_ms,
            pageviews: self.pageviews,
            events: self.events,
            entry_path: self.entry_path,
            exit_path: self.exit_path,
            bounce: self.bounce != 0,
            referrer_host: self.referrer_host,
            source: self.source,
            medium: self.medium,
            utm_source: self.utm_source,
            utm_medium: self.utm_medium,
            utm_campaign: self.utm_campaign,
            utm_term: self.utm_term,
            utm_content: self.utm_content,
            browser: self.browser,
            os: self.os,
            device: self.device,
            country: self.country,
            region: self.region,
            city: self.city,
        }
    }
}
