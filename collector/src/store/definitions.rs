//! The definitions seam: what a site's analysts save by name (goals and
//! segments), kept in the store beside the events so that every collector
//! in front of it sees the same ones.
//!
//! Policy kept by every backend: a definition is named by its site, its
//! kind and an id the collector gives it; its body is the JSON of what it
//! defines ([`crate::query::goals::Goal`], [`crate::query::segments::Segment`]),
//! checked before it is stored; saving under a stored id replaces it.
//! What a definition means is `crate::query`'s; a backend stores and answers.
//!
//! Mechanism: as the accounts seam ([`super::accounts`]): rare, short
//! calls on a connection of their own, never queued behind ingest. The
//! calls block: callers on async threads run them with `spawn_blocking`.

use crate::store::StoreError;

/// What a definition defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Goal,
    Segment,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Goal => "goal",
            Kind::Segment => "segment",
        }
    }
}

/// One saved definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub site: String,
    pub kind: Kind,
    pub id: String,
    pub name: String,
    /// What it defines, as JSON.
    pub body: String,
    pub updated_ms: i64,
}

pub trait Definitions: Send + Sync {
    /// A site's definitions of one kind, by name then id.
    fn list(&self, site: &str, kind: Kind) -> Result<Vec<Definition>, StoreError>;

    fn get(&self, site: &str, kind: Kind, id: &str) -> Result<Option<Definition>, StoreError>;

    /// Stores the definition, replacing one with its site, kind and id.
    fn put(&self, definition: &Definition) -> Result<(), StoreError>;

    /// Removes a definition; false when there was none.
    fn delete(&self, site: &str, kind: Kind, id: &str) -> Result<bool, StoreError>;
}
