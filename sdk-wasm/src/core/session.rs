//! The session rule, the SDK's half of it: a session ends after
//! `timeout_ms` without a tracked event, or once it is `max_ms` old; the
//! next event starts a new one with a new id. The collector applies the
//! same rule and is the authority for reporting; a new client session id
//! is always a boundary there too.
//!
//! Tabs of one browser share the session through storage: the session as
//! `id.started_ms.last_event_ms` under [`SESSION_KEY`], the visitor id
//! under [`VISITOR_KEY`], the user id from `identify` under [`USER_KEY`].
//! Storage is read once at the first event of a turn of the event loop and
//! written once at its end ([`Sessions::end_turn`]), not once per event:
//! a burst of events costs one read and one write, and another tab's
//! session is seen from its next turn on.
//!
//! The rule's two numbers start as configured and become the site's own
//! once the collector tells them ([`Sessions::adopt`]): the client's
//! sessions then end where the collector's do. The site's rule is kept
//! with the session, as `id.started_ms.last_event_ms.timeout_ms.max_ms`
//! (so the next page and the other tabs follow it too), and like the
//! session only in memory until consent allows storage.

use alloc::borrow::ToOwned;
use alloc::string::String;

use crate::core::ids::{Random, new_uuid_v4};
use crate::core::json::push_int;
use crate::core::text::{parse_int, split};
use crate::core::storage::KeyValue;
use waymark_protocol::{SessionRule, is_uuid};

pub const SESSION_KEY: &str = "waymark.session";
pub const VISITOR_KEY: &str = "waymark.visitor";
pub const USER_KEY: &str = "waymark.user";

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub started_ms: i64,
    pub last_event_ms: i64,
}

impl Ids {
    fn fresh(random: &dyn Random, now_ms: i64) -> Ids {
        Ids { visitor: new_uuid_v4(random), session: Session::fresh(random, now_ms), user: None, new: false }
    }
}

impl Session {
    fn fresh(random: &dyn Random, now_ms: i64) -> Session {
        Session { id: new_uuid_v4(random), started_ms: now_ms, last_event_ms: now_ms }
    }

    /// The stored record, with the site's rule when it is known.
    fn encode(&self, rule: Option<SessionRule>) -> String {
        let mut s = self.id.clone();
        let rule = rule.map(|r| [r.timeout_ms, r.max_ms]);
        for n in [self.started_ms, self.last_event_ms].iter().chain(rule.iter().flatten()) {
            s.push('.');
            push_int(&mut s, *n);
        }
        s
    }

    fn decode(raw: &str) -> Option<(Session, Option<SessionRule>)> {
        let mut parts = split(raw, b'.');
        let id = parts.next()?.to_owned();
        // started_ms, last_event_ms and, when the site's rule is known,
        // timeout_ms and max_ms.
        let mut n = [0i64; 4];
        let mut read = 0;
        for (slot, part) in n.iter_mut().zip(parts) {
            *slot = parse_int(part)?;
            read += 1;
        }
        let rule = Some(SessionRule { timeout_ms: n[2], max_ms: n[3] }).filter(|r| read == 4 && r.is_valid());
        (is_uuid(&id) && read >= 2).then_some((Session { id, started_ms: n[0], last_event_ms: n[1] }, rule))
    }
}

/// The ids an event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Ids {
    pub visitor: String,
    pub session: Session,
    pub user: Option<String>,
    /// Made on this page because none were stored, and not yet confirmed
    /// by an answer: sent as `new_ids`, so that a collector keeping the
    /// site's ids in its own cookie can say whose they are.
    pub new: bool,
}

/// Why an event got the session it got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Roll {
    Continued,
    /// No session was stored: a new visitor, or storage was cleared.
    Started,
    /// The idle timeout passed since the last event.
    Idle,
    /// The session reached its maximum length.
    MaxLength,
}

impl Roll {
    pub fn reason(self) -> &'static str {
        match self {
            Roll::Continued => "continued",
            Roll::Started => "new visitor",
            Roll::Idle => "idle timeout passed",
            Roll::MaxLength => "maximum session length reached",
        }
    }
}

pub struct Sessions {
    rule: SessionRule,
    /// `rule` is the site's, from the collector (else the configured one).
    site_rule: bool,
    ids: Option<Ids>,
    /// Storage was read during this turn.
    synced: bool,
    session_dirty: bool,
    ids_dirty: bool,
}

impl Sessions {
    pub fn new(timeout_ms: i64, max_ms: i64) -> Sessions {
        let rule = SessionRule { timeout_ms, max_ms };
        Sessions { rule, site_rule: false, ids: None, synced: false, session_dirty: false, ids_dirty: false }
    }

    pub fn rule(&self) -> SessionRule {
        self.rule
    }

    /// The site's rule, as the collector stated it; `true` when it changed
    /// this tracker's. An invalid rule is ignored.
    pub fn adopt(&mut self, rule: SessionRule) -> bool {
        if !rule.is_valid() || self.site_rule && rule == self.rule {
            return false;
        }
        self.rule = rule;
        self.site_rule = true;
        self.session_dirty = true;
        true
    }

    /// The ids for an event at `now_ms`, rolling the session if the rule says so.
    pub fn touch(&mut self, store: &dyn KeyValue, random: &dyn Random, now_ms: i64) -> (&Ids, Roll) {
        self.sync(store, random);
        let roll = match &self.ids {
            None => Roll::Started,
            Some(ids) if now_ms - ids.session.last_event_ms > self.rule.timeout_ms => Roll::Idle,
            Some(ids) if now_ms - ids.session.started_ms >= self.rule.max_ms => Roll::MaxLength,
            Some(_) => Roll::Continued,
        };
        self.session_dirty = true;
        match (self.ids.as_mut(), roll) {
            (Some(ids), Roll::Continued) => ids.session.last_event_ms = ids.session.last_event_ms.max(now_ms),
            (Some(ids), _) => ids.session = Session::fresh(random, now_ms),
            (None, _) => {
                self.ids_dirty = true;
                self.ids = Some(Ids { new: true, ..Ids::fresh(random, now_ms) });
            }
        }
        // Always `Some` after the match above; `None` cannot happen, but a
        // fallback keeps a panic path out of the module.
        let ids = self.ids.get_or_insert_with(|| Ids::fresh(random, now_ms));
        (ids, roll)
    }

    /// Links this visitor to `user` from now on; `true` when it changed.
    pub fn identify(&mut self, store: &dyn KeyValue, random: &dyn Random, now_ms: i64, user: &str) -> bool {
        let (ids, _) = self.touch(store, random, now_ms);
        if ids.user.as_deref() == Some(user) {
            return false;
        }
        if let Some(ids) = self.ids.as_mut() {
            ids.user = Some(user.to_owned());
        }
        self.ids_dirty = true;
        true
    }

    /// Logout: a new visitor with a new session and no user.
    pub fn reset(&mut self, random: &dyn Random, now_ms: i64) {
        self.ids = Some(Ids::fresh(random, now_ms));
        self.session_dirty = true;
        self.ids_dirty = true;
    }

    /// A delivery was answered: ids made on this page are confirmed, or
    /// replaced by those the collector's id cookie kept, `restored` as
    /// `visitor session` (the session only while it lives).
    pub fn confirm(&mut self, restored: &str) {
        let Some(ids) = self.ids.as_mut().filter(|ids| ids.new) else { return };
        let mut restored = split(restored, b' ');
        let (visitor, session) = (restored.next().unwrap_or_default(), restored.next().unwrap_or_default());
        ids.new = false;
        if is_uuid(visitor) {
            ids.visitor = visitor.to_owned();
            self.ids_dirty = true;
        }
        if is_uuid(session) {
            ids.session.id = session.to_owned();
            self.session_dirty = true;
        }
    }

    /// Consent withdrawn: the ids leave memory and storage.
    pub fn forget(&mut self, store: &dyn KeyValue) {
        self.ids = None;
        self.session_dirty = false;
        self.ids_dirty = false;
        for key in [SESSION_KEY, VISITOR_KEY, USER_KEY] {
            store.remove(key);
        }
    }

    /// Writes what changed during this turn; the next turn reads again.
    pub fn end_turn(&mut self, store: &dyn KeyValue) {
        self.synced = false;
        let Some(ids) = &self.ids else { return };
        if self.session_dirty {
            store.set(SESSION_KEY, &ids.session.encode(self.site_rule.then_some(self.rule)));
        }
        if self.ids_dirty {
            store.set(VISITOR_KEY, &ids.visitor);
            match &ids.user {
                Some(user) => store.set(USER_KEY, user),
                None => store.remove(USER_KEY),
            }
        }
        self.session_dirty = false;
        self.ids_dirty = false;
    }

    /// Adopts what another tab stored since this tab's last turn.
    fn sync(&mut self, store: &dyn KeyValue, random: &dyn Random) {
        if self.synced {
            return;
        }
        self.synced = true;
        let Some((stored, rule)) = store.get(SESSION_KEY).and_then(|raw| Session::decode(&raw)) else { return };
        if let Some(rule) = rule {
            self.rule = rule;
            self.site_rule = true;
        }
        let visitor = store.get(VISITOR_KEY).filter(|v| is_uuid(v));
        let user = store.get(USER_KEY);
        match (&mut self.ids, visitor) {
            (Some(ids), Some(visitor)) => {
                ids.visitor = visitor;
                ids.user = user;
                if ids.session.id == stored.id {
                    ids.session.last_event_ms = ids.session.last_event_ms.max(stored.last_event_ms);
                } else {
                    ids.session = stored;
                }
            }
            (None, Some(visitor)) => self.ids = Some(Ids { visitor, session: stored, user, new: false }),
            // A session without a stored visitor (from before visitor ids
            // were stored, or the rest was cleared): keep it, add one.
            (_, None) => {
                self.ids = Some(Ids { visitor: new_uuid_v4(random), session: stored, user, new: true });
                self.ids_dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::FakeRandom;
    use crate::core::storage::{CountingStore, MemoryStore};

    thread_local! {
        static RANDOM: FakeRandom = FakeRandom::default();
    }

    fn touch(s: &mut Sessions, store: &dyn KeyValue, now: i64) -> (Ids, Roll) {
        RANDOM.with(|random| {
            let (ids, roll) = s.touch(store, random, now);
            (ids.clone(), roll)
        })
    }

    const MIN: i64 = 60_000;
    const TIMEOUT: i64 = 30 * MIN;
    const MAX: i64 = 24 * 60 * MIN;

    /// One event in its own turn of the event loop, as a page sends them.
    fn event(s: &mut Sessions, store: &dyn KeyValue, now: i64) -> (Ids, Roll) {
        let (ids, roll) = touch(s, store, now);
        s.end_turn(store);
        (ids, roll)
    }

    #[test]
    fn first_event_starts_a_session_and_stores_it() {
        let store = MemoryStore::default();
        let (ids, roll) = event(&mut Sessions::new(TIMEOUT, MAX), &store, 1_000);
        assert_eq!(roll, Roll::Started);
        assert_eq!(store.get(SESSION_KEY).unwrap(), ids.session.id.clone() + ".1000.1000");
        assert_eq!(store.get(VISITOR_KEY).unwrap(), ids.visitor);
        assert_ne!(ids.visitor, ids.session.id);
    }

    #[test]
    fn session_continues_after_29_minutes_59_seconds_idle() {
        let store = MemoryStore::default();
        let mut s = Sessions::new(TIMEOUT, MAX);
        let (first, _) = event(&mut s, &store, 0);
        let (second, roll) = event(&mut s, &store, 29 * MIN + 59_000);
        assert_eq!(roll, Roll::Continued);
        assert_eq!(first.session.id, second.session.id);
    }

    #[test]
    fn session_rolls_over_after_30_minutes_1_second_idle() {
        let store = MemoryStore::default();
        let mut s = Sessions::new(TIMEOUT, MAX);
        let (first, _) = event(&mut s, &store, 0);
        let (second, roll) = event(&mut s, &store, 30 * MIN + 1_000);
        assert_eq!(roll, Roll::Idle);
        assert_ne!(first.session.id, second.session.id);
        assert_eq!(first.visitor, second.visitor, "the visitor stays");
    }

    #[test]
    fn a_busy_session_ends_at_its_maximum_length() {
        let store = MemoryStore::default();
        let mut s = Sessions::new(TIMEOUT, 60 * MIN);
        let (first, _) = event(&mut s, &store, 0);
        for minute in (10..60).step_by(10) {
            assert_eq!(event(&mut s, &store, minute * MIN).1, Roll::Continued);
        }
        let (last, roll) = event(&mut s, &store, 60 * MIN);
        assert_eq!(roll, Roll::MaxLength);
        assert_ne!(first.session.id, last.session.id);
    }

    #[test]
    fn two_tabs_share_one_session_through_storage() {
        let store = MemoryStore::default();
        let (mut tab_a, mut tab_b) = (Sessions::new(TIMEOUT, MAX), Sessions::new(TIMEOUT, MAX));
        let (a1, _) = event(&mut tab_a, &store, 0);
        let (b1, roll) = event(&mut tab_b, &store, 20 * MIN);
        assert_eq!((b1.session.id.as_str(), b1.visitor.as_str(), roll), (a1.session.id.as_str(), a1.visitor.as_str(), Roll::Continued));
        // Tab A was idle for 40 minutes, but tab B's event kept the session alive.
        let (a2, roll) = event(&mut tab_a, &store, 40 * MIN);
        assert_eq!((a2.session.id, roll), (a1.session.id.clone(), Roll::Continued));
        // Tab B rolls after an hour of silence; tab A then follows B's new session.
        let (b2, _) = event(&mut tab_b, &store, 100 * MIN);
        let (a3, roll) = event(&mut tab_a, &store, 101 * MIN);
        assert_eq!((a3.session.id, roll), (b2.session.id, Roll::Continued));
    }

    #[test]
    fn a_burst_of_events_reads_and_writes_storage_once() {
        let store = CountingStore::default();
        let mut s = Sessions::new(TIMEOUT, MAX);
        event(&mut s, &store, 0);
        let before = store.counts();
        for i in 0..100 {
            touch(&mut s, &store, 1_000 + i);
        }
        s.end_turn(&store);
        let (reads, writes) = store.counts();
        assert_eq!((reads - before.0, writes - before.1), (3, 1), "3 keys read once, the session written once");
    }

    #[test]
    fn identify_keeps_the_user_for_the_next_page_and_reset_forgets_it() {
        let store = MemoryStore::default();
        let mut s = Sessions::new(TIMEOUT, MAX);
        RANDOM.with(|random| {
            assert!(s.identify(&store, random, 0, "user-7"));
            assert!(!s.identify(&store, random, 1, "user-7"));
        });
        s.end_turn(&store);
        let (next_page, _) = event(&mut Sessions::new(TIMEOUT, MAX), &store, 2);
        assert_eq!(next_page.user.as_deref(), Some("user-7"));
        RANDOM.with(|random| s.reset(random, 3));
        s.end_turn(&store);
        let (after_logout, _) = event(&mut Sessions::new(TIMEOUT, MAX), &store, 4);
        assert_eq!(after_logout.user, None);
        assert_ne!(after_logout.visitor, next_page.visitor);
        assert_ne!(after_logout.session.id, next_page.session.id);
    }

    #[test]
    fn a_corrupt_stored_session_starts_a_new_one() {
        let store = MemoryStore::default();
        store.set(SESSION_KEY, "garbage");
        assert_eq!(event(&mut Sessions::new(TIMEOUT, MAX), &store, 0).1, Roll::Started);
    }

    #[test]
    fn forgetting_removes_every_id_from_storage() {
        let store = MemoryStore::default();
        let mut s = Sessions::new(TIMEOUT, MAX);
        RANDOM.with(|random| s.identify(&store, random, 0, "u"));
        s.end_turn(&store);
        s.forget(&store);
        assert!(store.is_empty());
    }

    #[test]
    fn the_site_s_rule_replaces_the_configured_one_and_is_kept_for_the_next_page() {
        let store = MemoryStore::default();
        let mut s = Sessions::new(TIMEOUT, MAX);
        let (first, _) = event(&mut s, &store, 0);
        assert!(s.adopt(SessionRule { timeout_ms: 5 * MIN, max_ms: 60 * MIN }));
        assert!(!s.adopt(SessionRule { timeout_ms: 5 * MIN, max_ms: 60 * MIN }), "the same rule again changes nothing");
        assert!(!s.adopt(SessionRule { timeout_ms: 0, max_ms: 60 * MIN }), "an invalid rule is ignored");
        let (after_6, roll) = event(&mut s, &store, 6 * MIN);
        assert_eq!(roll, Roll::Idle, "6 idle minutes end a session under a 5-minute rule");
        assert_ne!(after_6.session.id, first.session.id);
        assert_eq!(store.get(SESSION_KEY).unwrap(), after_6.session.id.clone() + ".360000.360000.300000.3600000");
        let mut next_page = Sessions::new(TIMEOUT, MAX);
        let (next, roll) = event(&mut next_page, &store, 12 * MIN);
        assert_eq!(next_page.rule(), SessionRule { timeout_ms: 5 * MIN, max_ms: 60 * MIN }, "the next page follows the stored rule");
        assert_eq!(roll, Roll::Idle, "and rolls after 6 idle minutes");
        assert_ne!(next.session.id, after_6.session.id);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// A session id changes exactly when the idle gap passes the
            /// timeout or the session reaches its maximum length.
            #[test]
            fn session_changes_exactly_when_the_rule_says(gaps in proptest::collection::vec(0i64..(45 * MIN), 1..60)) {
                let store = MemoryStore::default();
                let mut s = Sessions::new(TIMEOUT, 3 * 60 * MIN);
                let (mut prev, _) = event(&mut s, &store, 0);
                let mut now = 0;
                for gap in gaps {
                    now += gap;
                    let (ids, roll) = event(&mut s, &store, now);
                    let expected = if gap > TIMEOUT { Roll::Idle }
                        else if now - prev.session.started_ms >= 3 * 60 * MIN { Roll::MaxLength }
                        else { Roll::Continued };
                    prop_assert_eq!(roll, expected);
                    prop_assert_eq!(ids.session.id == prev.session.id, roll == Roll::Continued);
                    prop_assert_eq!(&ids.visitor, &prev.visitor);
                    prev = ids;
                }
            }

            /// Any interleaving of two tabs' events gives the same session
            /// ids as one tab sending all of them.
            #[test]
            fn tabs_agree_with_a_single_tab(steps in proptest::collection::vec((any::<bool>(), 0i64..(40 * MIN)), 1..40)) {
                let shared = MemoryStore::default();
                let mut tabs = [Sessions::new(TIMEOUT, MAX), Sessions::new(TIMEOUT, MAX)];
                let single_store = MemoryStore::default();
                let mut single = Sessions::new(TIMEOUT, MAX);
                let mut now = 0;
                let mut seen: Vec<(String, String)> = Vec::new();
                for (which, gap) in steps {
                    now += gap;
                    let (tab_ids, _) = event(&mut tabs[which as usize], &shared, now);
                    let (one_ids, _) = event(&mut single, &single_store, now);
                    seen.push((tab_ids.session.id, one_ids.session.id));
                }
                // Same partition into sessions: ids equal between neighbours in both runs.
                for pair in seen.windows(2) {
                    prop_assert_eq!(pair[0].0 == pair[1].0, pair[0].1 == pair[1].1);
                }
            }
        }
    }
}
