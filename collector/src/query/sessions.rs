//! The session explorer: sessions started in a period, newest first (by
//! start, then id), a page at a time, with how many there are in all; and
//! one session's journey, its events in (time, id) order. A journey is
//! found when the site has the session or any event of it (a session's row
//! may lag its events); otherwise it is [`QueryError::SessionNotFound`].

use serde::Serialize;

use super::QueryError;
use super::filter::Filter;
use super::period::Period;
use super::table::{Table, cell};
use crate::sessions::Session;

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

impl SessionsRequest {
    /// Sessions on one page: at least one, at most [`MAX_PER_PAGE`].
    pub fn per_page(&self) -> usize {
        self.per_page.clamp(1, MAX_PER_PAGE)
    }

    /// Sessions before this page; a page past any store's end (up to
    /// `usize::MAX`, as a query string may ask) is past `i64::MAX`, where
    /// every backend finds nothing.
    pub fn offset(&self) -> usize {
        self.page.saturating_mul(self.per_page()).min(i64::MAX as usize)
    }
}

impl Journey {
    /// The journey of `session_id` from what a backend found for it.
    pub fn found(session_id: &str, session: Option<Session>, events: Vec<JourneyStep>) -> Result<Journey, QueryError> {
        if session.is_none() && events.is_empty() {
            return Err(QueryError::SessionNotFound(session_id.to_owned()));
        }
        Ok(Journey { session, events })
    }
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
