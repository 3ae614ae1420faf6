//! Which events of a group are new: exactly-once counts from at-least-once
//! delivery.
//!
//! Policy: an event is new when the site holds no event with its id and no
//! earlier event of the same group has it; every other copy is answered as
//! a duplicate and written nowhere.
//!
//! Mechanism: looking every id up costs a seek per event, and resends are
//! rare, so a group usually assumes its ids new and lets the backend's
//! insert find a stored one ([`Dedupe::Assume`]); a backend whose insert
//! meets a stored id drops that try and plans the group again with
//! [`Dedupe::LookUp`]. Resends come in runs (a client retrying, a queue
//! replayed), so after one the next [`LOOK_UP_AFTER_A_DUPLICATE`] groups
//! look up from the start ([`DedupePolicy`]).

use std::collections::HashSet;

use crate::event::StoredEvent;
use crate::store::StoredState;

/// An event's place in a group: (batch, event).
pub type Position = (usize, usize);

/// How a group learns which of its events are stored already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// Look each id up first.
    LookUp,
    /// Assume none is stored; the backend's insert must refuse a stored id
    /// (and then the group is planned again with `LookUp`).
    Assume,
}

/// After a group met a stored id, this many groups look ids up.
pub const LOOK_UP_AFTER_A_DUPLICATE: u32 = 64;

/// The writer's choice between looking up and assuming, group by group.
#[derive(Debug, Default)]
pub struct DedupePolicy {
    look_up_for: u32,
}

impl DedupePolicy {
    /// How the next group is first tried.
    pub fn first_try(&mut self) -> Dedupe {
        if self.look_up_for == 0 {
            Dedupe::Assume
        } else {
            self.look_up_for -= 1;
            Dedupe::LookUp
        }
    }

    /// A try that assumed its ids new met a stored one.
    pub fn met_a_stored_id(&mut self) {
        self.look_up_for = LOOK_UP_AFTER_A_DUPLICATE;
    }
}

/// The positions of the group's new events, in the group's order.
pub fn new_events<S: StoredState>(state: &mut S, batches: &[Vec<StoredEvent>], dedupe: Dedupe) -> Result<Vec<Position>, S::Error> {
    let mut new = Vec::with_capacity(batches.iter().map(Vec::len).sum());
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(new.capacity());
    for (b, events) in batches.iter().enumerate() {
        for (i, e) in events.iter().enumerate() {
            if !seen.insert((&e.site, &e.id)) {
                continue;
            }
            if dedupe == Dedupe::LookUp && state.is_stored(&e.site, &e.id)? {
                continue;
            }
            new.push((b, i));
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_stored_id_the_next_groups_look_up_then_assume_again() {
        let mut policy = DedupePolicy::default();
        assert_eq!(policy.first_try(), Dedupe::Assume);
        policy.met_a_stored_id();
        let tries: Vec<Dedupe> = (0..LOOK_UP_AFTER_A_DUPLICATE + 1).map(|_| policy.first_try()).collect();
        assert!(tries[..LOOK_UP_AFTER_A_DUPLICATE as usize].iter().all(|d| *d == Dedupe::LookUp));
        assert_eq!(tries.last(), Some(&Dedupe::Assume));
    }
}
