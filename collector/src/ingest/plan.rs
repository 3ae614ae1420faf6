//! A group's plan, as data: what the backend must answer for each event and
//! what it must write, in order. Made by [`super::group::plan`]; persisted
//! by a backend's writer, which decides nothing of it.

use crate::event::StoredEvent;
use crate::sessions::Session;
use crate::store::Appended;

use super::dedupe::Position;

/// A session row to write.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionWrite {
    /// A new session (or one recomputed under an id it had): written whole.
    Insert(Session),
    /// A stored session extended by new events: the fields `sessions::extend` changes.
    Extend(Session),
    /// A stored session that a recompute replaced.
    Delete { site: String, id: String },
}

/// What is now a visitor's latest event, after the plan is committed, and
/// whether its session holds one client session id
/// ([`crate::sessions::one_client`]), for the backend to remember.
#[derive(Debug, Clone, PartialEq)]
pub enum Latest {
    /// The new event at this position, in the session written at this index of [`Plan::sessions`].
    Event { position: Position, session: usize, one_client: bool },
    /// Still this stored event (the rule's fields set), whose session,
    /// written at this index of [`Plan::sessions`], absorbed late events.
    Kept { last: Box<StoredEvent>, session: usize, one_client: bool },
    /// The visitor's sessions were recomputed: read them again when needed.
    Recomputed { site: String, visitor: String },
}

/// What a group's commit must do and answer.
#[derive(Debug, Default)]
pub struct Plan {
    /// What became of each event, batch by batch.
    pub outcomes: Vec<Vec<Appended>>,
    /// The events to store, in the group's order, each with its session id set.
    pub new: Vec<Position>,
    /// Session rows to write, in this order.
    pub sessions: Vec<SessionWrite>,
    /// Stored events whose session changed: (site, event id, session id).
    pub moved: Vec<(String, String, String)>,
    /// One entry per visitor with new events.
    pub latest: Vec<Latest>,
    /// Identity links the new events make (see [`crate::identity`]),
    /// under the visitor keys the plan gave them.
    pub links: Vec<crate::identity::Link>,
}
