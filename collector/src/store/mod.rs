//! Durable storage behind one trait. A backend acknowledges an append only
//! once the events are committed: the HTTP layer answers 2xx after that.

pub mod sqlite;

use async_trait::async_trait;

/// An event as it is stored: validated, with its time on the collector's
/// clock and the ids the collector assigned.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    pub site: String,
    pub id: String,
    /// Skew-corrected event time, ms since the epoch (UTC).
    pub ts: i64,
    pub received_ms: i64,
    pub name: String,
    /// The server-side session this event belongs to.
    pub session_id: String,
    /// The session id the SDK sent, if any.
    pub client_session_id: Option<String>,
    /// The SDK's visitor id, or the collector's daily cookieless key.
    pub visitor_id: String,
    pub user_id: Option<String>,
    pub url: String,
    pub host: String,
    pub path: String,
    pub referrer: Option<String>,
    pub title: Option<String>,
    /// Custom properties as a JSON object.
    pub props: String,
    pub engaged_ms: Option<i64>,
}

/// What became of one appended event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Stored,
    /// The site already holds an event with this id; nothing was written.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("could not open the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores the events durably, in order, and says for each whether it was
    /// new. Returns only after the commit.
    async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError>;

    /// Commits whatever is queued and stops accepting appends.
    async fn close(&self);
}
