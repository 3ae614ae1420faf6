//! The write seam: what every storage backend does for the pipeline.
//!
//! Policy: a backend acknowledges an append only once the events are
//! durable (committed and flushed, or acknowledged by the database): the
//! HTTP layer answers 2xx after that. A stored event id is a duplicate and
//! is written once. Sessions stay consistent with events: an append writes
//! the sessions its events change in the same transaction (on a database
//! without transactions over tables, ClickHouse, in the same group right
//! after the events: see `clickhouse::writer` for what a failure between
//! the two leaves).
//!
//! Mechanism, and who decides what: the backend runs one writer that takes
//! groups of appends; for each group it asks the pipeline for a plan
//! ([`crate::ingest::group::plan`]: which events are new, under which
//! visitor key, in which sessions, with which sessions rewritten), reading
//! what the plan needs through [`StoredState`] inside its transaction, and
//! persists the plan. Backends decide nothing about events or sessions;
//! they only store and answer. Lifecycle deletes (retention chunks,
//! erasure, audit records: [`lifecycle`]) are further writes of the same
//! writer, each its own short transaction; which rows go when is decided
//! by `crate::lifecycle`, the backend deletes what it is told. Identity
//! links will be further writes the same way. Every backend passes
//! [`conformance`]: SQLite ([`sqlite`], the default) and ClickHouse
//! ([`clickhouse`]); [`queue`] and [`tails`] are what their writers share.
//! The read seam is [`read::Reads`], with
//! its own suite, [`read_conformance`].

pub mod accounts;
pub mod clickhouse;
pub mod columns;
pub mod definitions;
#[cfg(test)]
pub mod conformance;
pub mod lifecycle;
pub mod queue;
pub mod read;
#[cfg(test)]
pub mod read_conformance;
pub mod sqlite;
pub mod tails;

use async_trait::async_trait;

use crate::event::StoredEvent;
use crate::sessions::Session;
use lifecycle::{AuditRecord, DayCount, Deleted, Erased, Selector};

/// What became of one appended event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Committed, in this session, for this visitor (the store may have
    /// continued yesterday's cookieless visitor).
    Stored { session_id: String, visitor_id: String, session_started: bool },
    /// Committed for this visitor key; its session is made later, by the
    /// sessionizer (ClickHouse with `[store] sessionizer` other than
    /// `writer`), which may still continue yesterday's cookieless visitor.
    Accepted { visitor_id: String },
    /// The site already holds an event with this id; nothing was written.
    Duplicate,
}

/// A stored session's place in time: what the pipeline needs to find the
/// sessions a late event can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpan {
    pub id: String,
    pub start_ts: i64,
    pub end_ts: i64,
}

/// What the pipeline reads of a backend's stored state while it plans a
/// group of appends, answered inside the backend's write transaction (and
/// from whatever the backend remembers of what it committed), so that a
/// plan and its writes see one state.
pub trait StoredState {
    type Error;

    /// Whether the site holds an event with this id.
    fn is_stored(&mut self, site: &str, id: &str) -> Result<bool, Self::Error>;

    /// The visitor's latest stored event in the rule's order. Only what
    /// the rule reads need be set: time, id, client session id and session id.
    /// A backend may answer none when that event is more than the longest
    /// session timeout (`limits::MAX_SESSION_TIMEOUT_MS`) before every event
    /// of the group it plans: the rule then starts a new session either way.
    fn latest_event(&mut self, site: &str, visitor: &str) -> Result<Option<StoredEvent>, Self::Error>;

    /// A stored session of the visitor.
    fn session(&mut self, site: &str, visitor: &str, id: &str) -> Result<Session, Self::Error>;

    /// True when the backend knows, without reading the session's events,
    /// that every one of them with a client session id has the session's
    /// ([`crate::sessions::one_client`]), as the plan that wrote it said
    /// ([`crate::ingest::plan::Latest`]). False when it does not know: late
    /// events are then recomputed rather than absorbed.
    fn one_client(&mut self, _site: &str, _visitor: &str, _session: &str) -> Result<bool, Self::Error> {
        Ok(false)
    }

    /// The visitor's sessions that overlap `[from, to]`, at most `limit`.
    fn sessions_overlapping(&mut self, site: &str, visitor: &str, from: i64, to: i64, limit: usize)
    -> Result<Vec<SessionSpan>, Self::Error>;

    /// Every stored event of these sessions of the site.
    fn events_of(&mut self, site: &str, sessions: &[SessionSpan]) -> Result<Vec<StoredEvent>, Self::Error>;
}

/// Requests from bots on one day, counted instead of stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BotHit {
    pub site: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub bot: String,
    pub hits: i64,
}

/// The secrets that key cookieless visitor ids of one UTC day: that day's
/// salt and, for visits that span its midnight, the day before's.
/// Rows per site and UTC day (a day number since the epoch): what a move
/// between backends checks its copy by.
pub type PerDay = std::collections::BTreeMap<(String, i64), u64>;

#[derive(Clone, PartialEq, Eq)]
pub struct DaySalts {
    /// UTC day number of `salt`.
    pub day: i64,
    pub salt: [u8; 32],
    /// The salt of `day - 1`, if one was made.
    pub day_before: Option<[u8; 32]>,
}

impl std::fmt::Debug for DaySalts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DaySalts {{ day: {}, secrets hidden }}", self.day)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub events: usize,
    pub sessions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("the database writer is behind ({0} requests queued)")]
    Busy(usize),
    #[error("could not open the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    /// The database could not be reached (down, unreachable, too slow):
    /// nothing was acknowledged, and trying again later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A database server refused a statement or answered what the store
    /// cannot read.
    #[error("{0}")]
    Backend(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores the events durably and updates their visitors' sessions; says
    /// for each whether it was new. Returns only after the commit.
    async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError>;

    /// Adds bot requests to the per-day counts.
    async fn count_bots(&self, hits: Vec<BotHit>) -> Result<(), StoreError>;

    /// The salts of `day` (a UTC day number, at most `today`), creating
    /// that day's if there is none yet. When today's is created (the first
    /// call of a UTC day), every salt older than yesterday is deleted:
    /// salts made for a backfill of an older day last until that moment.
    async fn salts(&self, today: i64, day: i64) -> Result<DaySalts, StoreError>;

    /// Recomputes every session from the stored events.
    async fn rebuild_sessions(&self) -> Result<Rebuilt, StoreError>;

    /// A site's events in (time, id) order.
    async fn events(&self, site: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// A site's sessions in (start, id) order.
    async fn sessions(&self, site: &str) -> Result<Vec<Session>, StoreError>;

    /// A site's bot counts.
    async fn bot_hits(&self, site: &str) -> Result<Vec<BotHit>, StoreError>;

    /// One bounded chunk of retention: deletes the oldest sessions of
    /// `site` that ended before `before_ms`, with their events, at most
    /// `max_rows` rows (at least one session), and the aggregates they
    /// leave empty or that lie before the cut-off. Nothing left to delete
    /// answers an empty [`Deleted`]. Forgets the deleted visitors' tails.
    async fn delete_before(&self, site: &str, before_ms: i64, max_rows: usize) -> Result<Deleted, StoreError>;

    /// What chunks up to `before_ms` would delete, per day: the dry run.
    async fn count_before(&self, site: &str, before_ms: i64) -> Result<Vec<DayCount>, StoreError>;

    /// Removes every event and session of the person `selector` names (for
    /// [`Selector::Site`], everything the site holds, in bounded chunks),
    /// subtracts them from the aggregates, and records it in the audit log
    /// as done at `at_ms` for `requested_by`. Nothing stored keeps a trace
    /// of what was removed. Erasing again removes nothing (and is recorded).
    async fn erase(&self, site: &str, selector: &Selector, at_ms: i64, requested_by: &str) -> Result<Erased, StoreError>;

    /// Appends a record to the audit log (retention runs write theirs).
    async fn record_audit(&self, record: AuditRecord) -> Result<(), StoreError>;

    /// The audit log, oldest first: one site's, or every site's.
    async fn audit(&self, site: Option<&str>) -> Result<Vec<AuditRecord>, StoreError>;

    /// Requests waiting to be committed.
    fn queue_depth(&self) -> usize;

    /// Commits whatever is queued and stops accepting appends.
    async fn close(&self);
}
