//! Durable storage behind one trait. A backend acknowledges an append only
//! once the events are committed: the HTTP layer answers 2xx after that.
//! Sessions are the store's to keep consistent with events: an append
//! updates the sessions it touches in the same transaction, by the rule in
//! [`crate::sessions`]. Every backend passes [`conformance`]. Reads are the
//! other seam, [`read::Reads`], with its own suite.

#[cfg(test)]
pub mod conformance;
pub mod read;
#[cfg(test)]
pub mod read_conformance;
pub mod sqlite;

use async_trait::async_trait;

use crate::event::StoredEvent;
use crate::sessions::Session;

/// What became of one appended event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Committed, in this session, for this visitor (the store may have
    /// continued yesterday's cookieless visitor).
    Stored { session_id: String, visitor_id: String, session_started: bool },
    /// The site already holds an event with this id; nothing was written.
    Duplicate,
}

/// Requests from bots on one day, counted instead of stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotHit {
    pub site: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub bot: String,
    pub hits: i64,
}

/// The secrets that key cookieless visitor ids: today's and, for visits
/// that span midnight, yesterday's. Older ones are deleted.
#[derive(Clone, PartialEq, Eq)]
pub struct DaySalts {
    /// UTC day number of `today`.
    pub day: i64,
    pub today: [u8; 32],
    pub yesterday: Option<[u8; 32]>,
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
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores the events durably and updates their visitors' sessions; says
    /// for each whether it was new. Returns only after the commit.
    async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError>;

    /// Adds bot requests to the per-day counts.
    async fn count_bots(&self, hits: Vec<BotHit>) -> Result<(), StoreError>;

    /// Today's and yesterday's salts, creating today's and deleting older
    /// ones as the day changes. `day` is a UTC day number.
    async fn salts(&self, day: i64) -> Result<DaySalts, StoreError>;

    /// Recomputes every session from the stored events.
    async fn rebuild_sessions(&self) -> Result<Rebuilt, StoreError>;

    /// A site's events in (time, id) order.
    async fn events(&self, site: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// A site's sessions in (start, id) order.
    async fn sessions(&self, site: &str) -> Result<Vec<Session>, StoreError>;

    /// A site's bot counts.
    async fn bot_hits(&self, site: &str) -> Result<Vec<BotHit>, StoreError>;

    /// Requests waiting to be committed.
    fn queue_depth(&self) -> usize;

    /// Commits whatever is queued and stops accepting appends.
    async fn close(&self);
}
