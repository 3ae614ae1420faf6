//! A group of appends, planned: the last stage of the pipeline, run by a
//! backend's writer for each group it takes, inside its transaction.
//!
//! Policy, in order: which events are new ([`dedupe`](super::dedupe));
//! which cookieless visitors keep yesterday's key
//! ([`visitor`](super::visitor)); then, visitor by visitor, the sessions of
//! the new events by the rule in [`crate::sessions`]
//! ([`sessionize`](super::sessionize)). The result is a [`Plan`]: what to
//! answer for each event and what to write. It is the same for every
//! backend; a backend only reads what the plan asks through
//! [`StoredState`] and persists the plan.

use crate::event::StoredEvent;
use crate::sessions::{Rule, Session};
use crate::store::{Appended, StoredState};

use super::dedupe::{self, Dedupe, Position};
use super::{sessionize, visitor};

/// A site's session rule, by site key.
pub trait Rules {
    fn of(&self, site: &str) -> Rule;
}

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

/// What is now a visitor's latest event, after the plan is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Latest {
    /// The new event at this position, in the session written at this index of [`Plan::sessions`].
    Event { position: Position, session: usize },
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
}

/// Plans a group of batches. Sets each new event's visitor key and session
/// id in `batches`, so that the backend stores them as planned.
pub fn plan<S: StoredState>(state: &mut S, batches: &mut [Vec<StoredEvent>], dedupe: Dedupe, rules: &impl Rules) -> Result<Plan, S::Error> {
    let mut plan = Plan {
        outcomes: batches.iter().map(|events| vec![Appended::Duplicate; events.len()]).collect(),
        new: dedupe::new_events(state, batches, dedupe)?,
        ..Plan::default()
    };
    for &(b, i) in &plan.new {
        let event = &mut batches[b][i];
        let timeout = rules.of(&event.site).timeout_ms;
        visitor::keep_yesterdays_key(state, event, timeout)?;
    }
    let key = |&(b, i): &Position| (batches[b][i].site.as_str(), batches[b][i].visitor_id.as_str());
    let mut by_visitor = plan.new.clone();
    by_visitor.sort_by(|a, b| key(a).cmp(&key(b)));
    let runs: Vec<usize> = by_visitor.chunk_by(|a, b| key(a) == key(b)).map(<[Position]>::len).collect();
    let mut rest = by_visitor.as_slice();
    for len in runs {
        let (run, tail) = rest.split_at(len);
        rest = tail;
        let (b, i) = run[0];
        let rule = rules.of(&batches[b][i].site);
        sessionize::visitor(state, batches, run, rule, &mut plan)?;
    }
    Ok(plan)
}
