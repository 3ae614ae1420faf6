//! A writer's memory of each recent visitor's latest committed event and
//! the session it is in: what the session rule reads when the visitor's next
//! events arrive. With it, the common case (a visitor's events arriving in
//! order) extends the session without reading the database.
//!
//! Policy: the cache only ever holds what is committed. The writer records a
//! visitor's new tail while it builds a transaction and applies the records
//! after the commit succeeds; a visitor whose sessions were recomputed (a
//! late event) or any rebuild is forgotten, and the database answers for it
//! next time. It holds the visitors whose session may still go on: every
//! [`SWEEP_EVERY_MS`] of event time, visitors whose session ended more than
//! a timeout before the newest are dropped (their next event starts a new
//! session, which the database answers for), so its memory follows the
//! visitors of the last half hour, not every visitor since the start. It
//! holds at most [`CAPACITY`] visitors: past that, the same sweep runs at
//! once, and if that is not enough, the half whose sessions ended longest
//! ago go as well.

use std::collections::HashMap;

use crate::event::StoredEvent;
use crate::ingest::group::{Latest, SessionWrite};
use crate::sessions::Session;

/// Visitors remembered at most: about 1.3 KiB each (the session's strings
/// and the map's), so some 26 MiB. The overload bench at twice the
/// collector's capacity meets a new visitor every few milliseconds; a
/// visitor forgotten costs two index lookups at their next event.
pub const CAPACITY: usize = 20_000;
/// Event time between sweeps of visitors whose session is over.
pub const SWEEP_EVERY_MS: i64 = 60_000;

/// A visitor's latest committed event (only what the session rule reads:
/// time, id, client session id, session id) and that event's session.
#[derive(Debug, Clone)]
pub struct Tail {
    pub last: LastEvent,
    pub session: Session,
    /// The session holds one client session id (`sessions::one_client`),
    /// which lets late events be absorbed into it.
    pub one_client: bool,
}

/// Of an event, what the session rule reads: kept apart rather than as a
/// [`StoredEvent`] with its other thirty fields empty, a few hundred bytes
/// per visitor remembered.
#[derive(Debug, Clone)]
pub struct LastEvent {
    pub ts: i64,
    pub id: String,
    pub client_session_id: Option<String>,
    pub session_id: String,
}

impl Tail {
    pub fn new(last: &StoredEvent, session: Session, one_client: bool) -> Tail {
        let last = LastEvent { ts: last.ts, id: last.id.clone(), client_session_id: last.client_session_id.clone(), session_id: session.id.clone() };
        Tail { last, session, one_client }
    }

    /// The latest event as the session rule reads it.
    pub fn last_event(&self) -> StoredEvent {
        StoredEvent {
            ts: self.last.ts,
            id: self.last.id.clone(),
            client_session_id: self.last.client_session_id.clone(),
            session_id: self.last.session_id.clone(),
            ..StoredEvent::default()
        }
    }

    /// Whether the session `id` is this tail's and holds one client session id.
    pub fn one_client(&self, id: &str) -> bool {
        self.session.id == id && self.one_client
    }
}

/// A change to apply once the transaction that made it has committed.
/// Unboxed: `Set` is the usual change, one per visitor per group.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    Set(Tail),
    Forget { site: String, visitor: String },
}

/// What a committed plan changes of the tails: each visitor's latest
/// event (new, or kept while late events joined its session) with the
/// session the plan wrote it in, or, for a visitor whose sessions were
/// recomputed, forgetting them.
pub fn changes_of(latest: Vec<Latest>, sessions: Vec<SessionWrite>, batches: &[Vec<StoredEvent>]) -> Vec<Change> {
    let mut sessions: Vec<Option<Session>> = sessions
        .into_iter()
        .map(|w| match w {
            SessionWrite::Insert(s) | SessionWrite::Extend(s) => Some(s),
            SessionWrite::Delete { .. } => None,
        })
        .collect();
    latest
        .into_iter()
        .filter_map(|l| match l {
            Latest::Event { position: (b, i), session, one_client } => {
                sessions[session].take().map(|s| Change::Set(Tail::new(&batches[b][i], s, one_client)))
            }
            Latest::Kept { last, session, one_client } => sessions[session].take().map(|s| Change::Set(Tail::new(&last, s, one_client))),
            Latest::Recomputed { site, visitor } => Some(Change::Forget { site, visitor }),
        })
        .collect()
}

#[derive(Default)]
pub struct Tails {
    /// Site → visitor → tail: lookups borrow both keys, no allocation.
    sites: HashMap<String, HashMap<String, Tail>>,
    len: usize,
    newest_end: i64,
    /// `newest_end` at the last sweep.
    swept_at: i64,
}

impl Tails {
    pub fn get(&self, site: &str, visitor: &str) -> Option<&Tail> {
        self.sites.get(site)?.get(visitor)
    }

    /// Applies a committed transaction's changes.
    pub fn apply(&mut self, changes: Vec<Change>, timeout_of: impl Fn(&str) -> i64) {
        for change in changes {
            match change {
                Change::Set(tail) => {
                    self.newest_end = self.newest_end.max(tail.session.end_ts);
                    // Keys are copied only for a site or visitor not seen before.
                    if !self.sites.contains_key(&tail.session.site) {
                        self.sites.insert(tail.session.site.clone(), HashMap::new());
                    }
                    let visitors = self.sites.get_mut(&tail.session.site).expect("inserted above");
                    match visitors.get_mut(&tail.session.visitor_id) {
                        Some(slot) => *slot = tail,
                        None => {
                            visitors.insert(tail.session.visitor_id.clone(), tail);
                            self.len += 1;
                        }
                    }
                }
                Change::Forget { site, visitor } => {
                    if self.sites.get_mut(&site).and_then(|v| v.remove(&visitor)).is_some() {
                        self.len -= 1;
                    }
                }
            }
        }
        if self.len > CAPACITY {
            self.shed(timeout_of);
        } else if self.newest_end - self.swept_at >= SWEEP_EVERY_MS {
            self.sweep(&timeout_of);
        }
    }

    /// Forgets `visitors` of `site` (their rows were deleted): what is
    /// stored answers for them next time.
    pub fn forget(&mut self, site: &str, visitors: Vec<String>, timeout_of: impl Fn(&str) -> i64) {
        let changes = visitors.into_iter().map(|visitor| Change::Forget { site: site.to_owned(), visitor }).collect();
        self.apply(changes, timeout_of);
    }

    pub fn clear(&mut self) {
        self.sites.clear();
        self.len = 0;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn shed(&mut self, timeout_of: impl Fn(&str) -> i64) {
        self.sweep(&timeout_of);
        if self.len > CAPACITY / 2 {
            // The newest half stays: those are the visitors whose next
            // events are on their way.
            let mut ends: Vec<i64> = self.sites.values().flat_map(|v| v.values().map(|t| t.session.end_ts)).collect();
            let drop = ends.len() - CAPACITY / 2;
            let cutoff = *ends.select_nth_unstable(drop).1;
            for visitors in self.sites.values_mut() {
                visitors.retain(|_, tail| tail.session.end_ts >= cutoff);
            }
            self.len = self.sites.values().map(HashMap::len).sum();
        }
    }

    /// Drops the visitors whose session ended more than a timeout before
    /// the newest end; the maps give their room back when most went.
    fn sweep(&mut self, timeout_of: &impl Fn(&str) -> i64) {
        let newest = self.newest_end;
        for (site, visitors) in &mut self.sites {
            let timeout = timeout_of(site);
            visitors.retain(|_, tail| tail.session.end_ts >= newest - timeout);
            if visitors.capacity() > 4 * visitors.len().max(64) {
                visitors.shrink_to_fit();
            }
        }
        self.sites.retain(|_, visitors| !visitors.is_empty());
        self.len = self.sites.values().map(HashMap::len).sum();
        self.swept_at = newest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(visitor: &str, end_ts: i64) -> Tail {
        let session = Session { site: "site".into(), id: format!("s-{visitor}"), visitor_id: visitor.into(), end_ts, ..Session::default() };
        Tail::new(&StoredEvent { ts: end_ts, id: format!("e-{visitor}"), ..StoredEvent::default() }, session, true)
    }

    #[test]
    fn a_set_tail_is_found_and_a_forgotten_one_is_not() {
        let mut tails = Tails::default();
        tails.apply(vec![Change::Set(tail("anna", 10)), Change::Set(tail("ben", 20))], |_| 5);
        assert_eq!(tails.get("site", "anna").map(|t| t.last.session_id.as_str()), Some("s-anna"));
        tails.apply(vec![Change::Forget { site: "site".into(), visitor: "anna".into() }], |_| 5);
        assert!(tails.get("site", "anna").is_none());
        assert_eq!((tails.len(), tails.get("site", "ben").map(|t| t.last.ts)), (1, Some(20)));
    }

    #[test]
    fn past_capacity_with_every_session_going_on_the_newest_half_is_kept() {
        let mut tails = Tails::default();
        let busy: Vec<Change> = (0..=CAPACITY).map(|n| Change::Set(tail(&format!("v-{n}"), n as i64))).collect();
        tails.apply(busy, |_| i64::MAX / 4);
        assert!(tails.len() <= CAPACITY / 2 + 1, "{} visitors kept", tails.len());
        assert!(tails.get("site", &format!("v-{CAPACITY}")).is_some() && tails.get("site", "v-0").is_none());
    }

    #[test]
    fn a_minute_of_event_time_later_visitors_whose_session_is_over_are_dropped() {
        let mut tails = Tails::default();
        tails.apply(vec![Change::Set(tail("anna", 0)), Change::Set(tail("ben", 50_000))], |_| 30_000);
        assert_eq!(tails.len(), 2);
        // Anna's session ended 60 s before the newest event, twice the timeout.
        tails.apply(vec![Change::Set(tail("cleo", SWEEP_EVERY_MS))], |_| 30_000);
        assert!(tails.get("site", "anna").is_none());
        assert_eq!((tails.len(), tails.get("site", "ben").map(|t| t.last.ts)), (2, Some(50_000)));
    }

    #[test]
    fn past_capacity_visitors_idle_for_longer_than_a_timeout_are_dropped() {
        let mut tails = Tails::default();
        let old: Vec<Change> = (0..CAPACITY).map(|n| Change::Set(tail(&format!("old-{n}"), 0))).collect();
        tails.apply(old, |_| 1_000);
        assert_eq!(tails.len(), CAPACITY);
        tails.apply(vec![Change::Set(tail("new", 5_000))], |_| 1_000);
        assert_eq!(tails.len(), 1);
        assert!(tails.get("site", "new").is_some() && tails.get("site", "old-0").is_none());
    }
}
