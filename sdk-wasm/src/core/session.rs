//! The session rule, the SDK's half of it: a session ends after `timeout_ms`
//! without a tracked event; the next event starts a new one with a new id.
//! The collector applies the same rule and is the authority for reporting;
//! a new client session id is always a boundary there too.
//!
//! A session is stored as `id.started_ms.last_event_ms`, so that tabs of one
//! browser share it through storage.

use crate::core::ids::new_uuid_v4;
use crate::core::storage::KeyValue;

pub const SESSION_KEY: &str = "waymark.session";

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub started_ms: i64,
    pub last_event_ms: i64,
}

/// Why the event belongs to the session it got.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionChange {
    Continued,
    Started,
    RolledAfterIdle,
}

impl Session {
    fn encode(&self) -> String {
        format!("{}.{}.{}", self.id, self.started_ms, self.last_event_ms)
    }

    fn decode(raw: &str) -> Option<Session> {
        let mut parts = raw.split('.');
        let id = parts.next()?.to_owned();
        let started_ms = parts.next()?.parse().ok()?;
        let last_event_ms = parts.next()?.parse().ok()?;
        waymark_protocol::is_uuid(&id).then_some(Session { id, started_ms, last_event_ms })
    }
}

/// The session an event at `now_ms` belongs to, given what storage holds;
/// stores the result so other tabs see it.
pub fn touch(store: &dyn KeyValue, now_ms: i64, timeout_ms: i64) -> (Session, SessionChange) {
    let previous = store.get(SESSION_KEY).and_then(|raw| Session::decode(&raw));
    let (session, change) = match previous {
        Some(mut s) if now_ms - s.last_event_ms <= timeout_ms => {
            s.last_event_ms = s.last_event_ms.max(now_ms);
            (s, SessionChange::Continued)
        }
        Some(_) => (fresh(now_ms), SessionChange::RolledAfterIdle),
        None => (fresh(now_ms), SessionChange::Started),
    };
    store.set(SESSION_KEY, &session.encode());
    (session, change)
}

fn fresh(now_ms: i64) -> Session {
    Session { id: new_uuid_v4(), started_ms: now_ms, last_event_ms: now_ms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::storage::MemoryStore;

    const MIN: i64 = 60_000;
    const TIMEOUT: i64 = 30 * MIN;

    #[test]
    fn first_event_starts_a_session() {
        let store = MemoryStore::default();
        let (s, change) = touch(&store, 1_000, TIMEOUT);
        assert_eq!(change, SessionChange::Started);
        assert_eq!(store.get(SESSION_KEY).unwrap(), format!("{}.1000.1000", s.id));
    }

    #[test]
    fn session_continues_after_29_minutes_59_seconds_idle() {
        let store = MemoryStore::default();
        let (first, _) = touch(&store, 0, TIMEOUT);
        let (second, change) = touch(&store, 29 * MIN + 59_000, TIMEOUT);
        assert_eq!(change, SessionChange::Continued);
        assert_eq!(first.id, second.id);
    }

    #[test]
    fn session_rolls_over_after_30_minutes_1_second_idle() {
        let store = MemoryStore::default();
        let (first, _) = touch(&store, 0, TIMEOUT);
        let (second, change) = touch(&store, 30 * MIN + 1_000, TIMEOUT);
        assert_eq!(change, SessionChange::RolledAfterIdle);
        assert_ne!(first.id, second.id);
    }

    #[test]
    fn a_corrupt_stored_session_starts_a_new_one() {
        let store = MemoryStore::default();
        store.set(SESSION_KEY, "garbage");
        let (_, change) = touch(&store, 0, TIMEOUT);
        assert_eq!(change, SessionChange::Started);
    }
}
