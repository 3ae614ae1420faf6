//! The live feed: what the collector just did, pushed to whoever listens
//! (the dashboard's live view and installation checker, over server-sent
//! events). Publishing never blocks ingest: a slow listener misses messages
//! (`broadcast` lag) rather than holding up a commit. A stream may follow
//! a saved segment: [`segment`] says which messages it then carries,
//! [`members`] works out and shares who is in it.

pub mod members;
pub mod segment;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::event::StoredEvent;

/// Messages kept for listeners that fall behind.
const CAPACITY: usize = 1024;

/// Unboxed: `Stored` is the usual message, and a box would cost an
/// allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// An event was committed; it carries everything validation and
    /// enrichment produced.
    Stored { event: StoredEvent },
    /// A resent event that was already stored.
    Duplicate { site: String, id: String },
    /// An event was refused, with the reason the sender got.
    Rejected { site: String, index: usize, id: String, reason: String, message: String },
    /// A session began with this event.
    SessionStarted { site: String, session_id: String, visitor_id: String, ts: i64 },
}

impl LiveMessage {
    pub fn site(&self) -> &str {
        match self {
            LiveMessage::Stored { event } => &event.site,
            LiveMessage::Duplicate { site, .. } | LiveMessage::Rejected { site, .. } | LiveMessage::SessionStarted { site, .. } => site,
        }
    }
}

#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<LiveMessage>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed { sender: broadcast::channel(CAPACITY).0 }
    }
}

impl LiveFeed {
    pub fn publish(&self, message: LiveMessage) {
        // No listener is not an error.
        let _ = self.sender.send(message);
    }

    /// False when nobody listens: publishers may skip building messages.
    pub fn has_listeners(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveMessage> {
        self.sender.subscribe()
    }
}
