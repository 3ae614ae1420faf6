//! The read side: the numbers the dashboard and the query API show, computed
//! from the stored events and sessions by whichever backend holds them.
//!
//! Policy, in one place:
//! - a session counts in the period (and the chart bucket) in which it
//!   started; visitors, sessions, bounce rate and session duration come from
//!   `sessions`, pageviews and events from `events` by their own time;
//! - days and hours are the site's, in its IANA time zone (a DST day has 23
//!   or 25 hourly buckets);
//! - the previous period is the same number of days just before;
//! - filters combine with AND (see [`filter`] for what each dimension means
//!   for sessions and for events).
//!
//! Mechanism: each question is a method of the read seam
//! ([`crate::store::read::Reads`]), with request and answer types from the
//! modules here, so every backend answers the same questions the same way;
//! [`queries::Queries`] asks the seam, with the collector's injected clock
//! for "now".
//! No SQL and no backend's types here: the SQLite answers are in
//! `store::sqlite::reads`.

pub mod breakdown;
pub mod consent;
pub mod filter;
pub mod funnel;
pub mod goals;
pub mod matching;
pub mod overview;
pub mod people;
pub mod period;
pub mod person;
pub mod queries;
pub mod realtime;
pub mod retention;
pub mod segments;
pub mod sessions;
pub mod table;

use std::sync::Arc;


#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The backend failed to answer (its own error inside).
    #[error("database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("no session {0:?} for this site")]
    SessionNotFound(String),
    #[error("no segment {0:?} for this site: list them at /api/segments")]
    SegmentNotFound(String),
    #[error("the query was interrupted")]
    Interrupted,
}

/// "Now" for the read side: the collector's one injected clock.
pub type SharedClock = Arc<dyn crate::clock::Clock>;

/// A site as the read side sees it: its key, its time zone, and how long
/// its sessions may last (a backend may assume none lasts longer when it
/// looks for a session's events).
#[derive(Debug, Clone)]
pub struct Site {
    pub key: String,
    pub time_zone: jiff::tz::TimeZone,
    pub session_max_ms: i64,
}

impl Site {
    pub fn new(key: &str, time_zone: &str) -> Result<Site, QueryError> {
        let time_zone = jiff::tz::TimeZone::get(time_zone).map_err(|_| QueryError::TimeZone(time_zone.to_owned()))?;
        Ok(Site { key: key.to_owned(), time_zone, session_max_ms: waymark_protocol::limits::DEFAULT_SESSION_MAX_MS })
    }

    /// The same site, its sessions cut at `max_ms` (its configured rule).
    #[must_use]
    pub fn with_session_max(self, max_ms: i64) -> Site {
        Site { session_max_ms: max_ms, ..self }
    }
}

/// `part / whole`, or 0 when there is nothing to divide.
pub fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}
