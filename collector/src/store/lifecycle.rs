//! The lifecycle's types at the write seam: which person a request is
//! about ([`Selector`]), what a bounded retention chunk removed
//! ([`Deleted`]), what an erasure removed ([`Erased`]), what a dry run
//! would remove ([`DayCount`]) and the audit log's rows ([`AuditRecord`]).
//!
//! Policy here is only what the seam promises; who is deleted when is
//! decided in `crate::lifecycle`:
//! - retention deletes whole sessions that ended before the cut-off, with
//!   all their events (a session that straddles the cut-off stays whole
//!   until a later run finds it ended before the cut-off). A visitor's
//!   sessions follow one another, so what goes is always the start of each
//!   visitor's history, and recomputing the sessions from the events that
//!   stay gives exactly the sessions that stay;
//! - erasure removes every event and session of the visitors a selector
//!   names (see [`Selector`]) in one transaction, with its audit record;
//!   erasing again finds nothing and removes nothing;
//! - the aggregates follow: `event_slots` lose the deleted events' counts
//!   (a slot that reaches zero goes), `bot_hits` lose the days before the
//!   cut-off (they name no person, so erasure of a person leaves them);
//! - an audit record names the kind of id given, never the id.

use serde::Serialize;

/// Whose data a request is about, on one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// One visitor id (the SDK's, or a cookieless day key).
    Visitor(String),
    /// Every visitor linked to this user id: today, every visitor with an
    /// event carrying it (`identify`). Resolved in one place per backend
    /// (`store::sqlite::identity`), which the identity link log replaces.
    User(String),
    /// The visitor of this session (the collector's session id, as the
    /// session explorer and exports show it): a session names a person.
    Session(String),
    /// Everything the site holds.
    Site,
}

impl Selector {
    /// The kind of id, as the audit log records it.
    pub fn kind(&self) -> AuditKind {
        match self {
            Selector::Visitor(_) => AuditKind::Visitor,
            Selector::User(_) => AuditKind::User,
            Selector::Session(_) => AuditKind::Session,
            Selector::Site => AuditKind::Site,
        }
    }
}

/// What a request that removed rows was, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditKind {
    Visitor,
    User,
    Session,
    Site,
    Retention,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Visitor => "visitor",
            AuditKind::User => "user",
            AuditKind::Session => "session",
            AuditKind::Site => "site",
            AuditKind::Retention => "retention",
        }
    }

    pub fn parse(kind: &str) -> Option<AuditKind> {
        [AuditKind::Visitor, AuditKind::User, AuditKind::Session, AuditKind::Site, AuditKind::Retention]
            .into_iter()
            .find(|k| k.as_str() == kind)
    }
}

/// What one bounded retention chunk removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Deleted {
    pub events: u64,
    pub sessions: u64,
    /// `bot_hits` rows (one per site, day and bot).
    pub bot_days: u64,
}

impl Deleted {
    /// Rows of events and sessions: what the audit log and `/metrics` count.
    pub fn rows(&self) -> u64 {
        self.events + self.sessions
    }

    pub fn is_empty(&self) -> bool {
        self.rows() == 0 && self.bot_days == 0
    }

    pub fn add(&mut self, other: Deleted) {
        self.events += other.events;
        self.sessions += other.sessions;
        self.bot_days += other.bot_days;
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// Visitors whose data went.
    pub visitors: u64,
    pub events: u64,
    pub sessions: u64,
}

impl Erased {
    pub fn rows(&self) -> u64 {
        self.events + self.sessions
    }
}

/// What a retention run would remove on one UTC day (the day its sessions
/// started), for the dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub sessions: u64,
    pub events: u64,
    pub bot_days: u64,
}

/// One row of the audit log. Holds no personal data: the kind of id given,
/// never the id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When the request was carried out, ms since the epoch.
    pub at_ms: i64,
    pub site: String,
    pub kind: AuditKind,
    /// Events and sessions removed.
    pub rows_removed: u64,
    /// A dashboard user's name, "cli", a token's label, or "retention".
    pub requested_by: String,
}

/// The `bot_hits` days wholly before `before_ms`: those before its UTC
/// day (labels compare as text). `i64::MAX` (a whole site) takes every day.
pub fn bot_day_bound(before_ms: i64) -> String {
    if before_ms == i64::MAX { "~".into() } else { crate::clock::day_label(crate::clock::day_of(before_ms)) }
}
