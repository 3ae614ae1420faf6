//! What the pipeline reads of the stored state while it plans a group
//! ([`StoredState`]) on ClickHouse: from what the writer remembers of its
//! writes ([`Tails`]), from what was fetched for the whole group in one
//! query each before planning (which ids are stored, each new visitor's
//! latest event), and otherwise by a query of its own.
//!
//! Every read goes through `FINAL` (see `schema`), so it sees each row's
//! latest version; the writer's own inserts are visible to its next
//! statement, so a plan sees what the groups before it wrote.

use std::collections::{HashMap, HashSet};

use super::client::{lit, lits};
use super::db::Db;
use super::rows::{EVENT_COLUMNS, LIVE_SESSIONS, SessionRow, session_by_id};
use super::schema::{of_visitor, start_days};
use crate::event::StoredEvent;
use crate::sessions::Session;
use crate::store::tails::Tails;
use crate::store::{SessionSpan, StoreError, StoredState};
use waymark_protocol::limits::{MAX_SESSION_MAX_MS, MAX_SESSION_TIMEOUT_MS};

type Key = (String, String);

/// The stored state as the writer sees it while it plans one group.
pub(super) struct InWriter<'a> {
    db: &'a Db,
    tails: &'a Tails,
    /// (site, id) of the group's events that are stored already.
    stored: HashSet<Key>,
    /// (site, visitor) → latest event, for the group's visitors the tails
    /// lack; none when it is more than the longest timeout before the
    /// group's events (see [`InWriter::prefetch`]).
    latest: HashMap<Key, Option<StoredEvent>>,
    /// Stored events the plan read (to recompute a window): the full rows
    /// a move rewrites.
    pub read_events: HashMap<Key, StoredEvent>,
    /// The visitor and start of each stored session the plan read: a
    /// tombstone names them (its sorting key, and its shard).
    pub read_sessions: HashMap<Key, (String, i64)>,
}

#[derive(serde::Deserialize)]
struct IdRow {
    site: String,
    id: String,
}

#[derive(serde::Deserialize)]
struct LatestRow {
    site: String,
    visitor_id: String,
    ts: i64,
    id: String,
    client_session_id: Option<String>,
    session_id: String,
}

#[derive(serde::Deserialize)]
struct SpanRow {
    id: String,
    start_ts: i64,
    end_ts: i64,
}

pub(super) fn pairs<'k>(keys: impl Iterator<Item = (&'k str, &'k str)>) -> String {
    let list: Vec<String> = keys.map(|(a, b)| format!("({}, {})", lit(a), lit(b))).collect();
    if list.is_empty() { "(('', ''))".into() } else { format!("({})", list.join(", ")) }
}

impl<'a> InWriter<'a> {
    /// Fetches, in two queries, which of the group's ids are stored and
    /// the latest event of each of its visitors that the tails lack.
    pub(super) fn prefetch(db: &'a Db, tails: &'a Tails, batches: &[Vec<StoredEvent>]) -> Result<InWriter<'a>, StoreError> {
        let events = || batches.iter().flatten();
        let ids: HashSet<(&str, &str)> = events().map(|e| (e.site.as_str(), e.id.as_str())).collect();
        let stored: HashSet<Key> = db
            .rows::<IdRow>(&format!("SELECT DISTINCT site, id FROM event_keys WHERE (site, id) IN {}", pairs(ids.into_iter())))?
            .into_iter()
            .map(|r| (r.site, r.id))
            .collect();
        let unknown: HashSet<(&str, &str)> = events()
            .map(|e| (e.site.as_str(), e.visitor_id.as_str()))
            .filter(|(site, visitor)| tails.get(site, visitor).is_none())
            .collect();
        let mut latest: HashMap<Key, Option<StoredEvent>> =
            unknown.iter().map(|(s, v)| (((*s).to_owned(), (*v).to_owned()), None)).collect();
        if !unknown.is_empty() {
            // Only events from the longest timeout before the group's first
            // on: an earlier latest event is split from every new one by
            // the timeout, so the plan starts a session just as when the
            // visitor has none, and the read skips the months before.
            let since = events().map(|e| e.ts).min().unwrap_or(0).saturating_sub(MAX_SESSION_TIMEOUT_MS);
            let sql = format!(
                "SELECT site, visitor_id, ts, id, client_session_id, session_id FROM events FINAL
                 WHERE site IN {} AND ts >= {since} AND (site, visitor_id) IN {}
                 ORDER BY site, visitor_id, ts DESC, id DESC LIMIT 1 BY site, visitor_id",
                lits(unknown.iter().map(|(site, _)| *site).collect::<HashSet<_>>().into_iter()),
                pairs(unknown.into_iter())
            );
            for r in db.rows::<LatestRow>(&sql)? {
                let event = StoredEvent {
                    ts: r.ts,
                    id: r.id,
                    client_session_id: r.client_session_id,
                    session_id: r.session_id,
                    ..StoredEvent::default()
                };
                latest.insert((r.site, r.visitor_id), Some(event));
            }
        }
        Ok(InWriter { db, tails, stored, latest, read_events: HashMap::new(), read_sessions: HashMap::new() })
    }
}

impl StoredState for InWriter<'_> {
    type Error = StoreError;

    fn is_stored(&mut self, site: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.stored.contains(&(site.to_owned(), id.to_owned())))
    }

    fn latest_event(&mut self, site: &str, visitor: &str) -> Result<Option<StoredEvent>, StoreError> {
        if let Some(tail) = self.tails.get(site, visitor) {
            return Ok(Some(tail.last_event()));
        }
        if let Some(latest) = self.latest.get(&(site.to_owned(), visitor.to_owned())) {
            return Ok(latest.clone());
        }
        let sql = format!(
            "SELECT site, visitor_id, ts, id, client_session_id, session_id FROM events FINAL
             WHERE site = {} AND visitor_id = {} ORDER BY ts DESC, id DESC LIMIT 1",
            lit(site),
            lit(visitor)
        );
        Ok(self.db.rows::<LatestRow>(&sql)?.into_iter().next().map(|r| StoredEvent {
            ts: r.ts,
            id: r.id,
            client_session_id: r.client_session_id,
            session_id: r.session_id,
            ..StoredEvent::default()
        }))
    }

    fn one_client(&mut self, site: &str, visitor: &str, session: &str) -> Result<bool, StoreError> {
        Ok(self.tails.get(site, visitor).is_some_and(|tail| tail.one_client(session)))
    }

    fn session(&mut self, site: &str, visitor: &str, id: &str) -> Result<Session, StoreError> {
        if let Some(tail) = self.tails.get(site, visitor)
            && tail.session.id == id
        {
            return Ok(tail.session.clone());
        }
        let row = session_by_id(self.db, site, id)?;
        let session = row.map(SessionRow::into_session).ok_or_else(|| StoreError::Backend(format!("session {id:?} of an event is not stored")))?;
        self.read_sessions.insert((site.to_owned(), id.to_owned()), (session.visitor_id.clone(), session.start_ts));
        Ok(session)
    }

    fn sessions_overlapping(
        &mut self,
        site: &str,
        visitor: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<SessionSpan>, StoreError> {
        // A session overlapping `[from, to]` started at most its longest before.
        let sql = format!(
            "SELECT id, start_ts, end_ts FROM {LIVE_SESSIONS} AND site = {} AND {} AND {} AND end_ts >= {from} AND start_ts <= {to}
             ORDER BY start_ts DESC LIMIT {}",
            lit(site),
            start_days(from.saturating_sub(MAX_SESSION_MAX_MS), to),
            of_visitor(visitor),
            limit.min(i64::MAX as usize)
        );
        let spans: Vec<SessionSpan> =
            self.db.rows::<SpanRow>(&sql)?.into_iter().map(|r| SessionSpan { id: r.id, start_ts: r.start_ts, end_ts: r.end_ts }).collect();
        for s in &spans {
            self.read_sessions.insert((site.to_owned(), s.id.clone()), (visitor.to_owned(), s.start_ts));
        }
        Ok(spans)
    }

    fn events_of(&mut self, site: &str, sessions: &[SessionSpan]) -> Result<Vec<StoredEvent>, StoreError> {
        if sessions.is_empty() {
            return Ok(Vec::new());
        }
        // A session's events lie between its start and its end.
        let (lo, hi) = sessions.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s.start_ts), hi.max(s.end_ts)));
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events FINAL WHERE site = {} AND ts >= {lo} AND ts <= {hi} AND session_id IN {}",
            lit(site),
            lits(sessions.iter().map(|s| s.id.as_str()))
        );
        let events = self.db.rows::<StoredEvent>(&sql)?;
        for e in &events {
            self.read_events.insert((e.site.clone(), e.id.clone()), e.clone());
        }
        Ok(events)
    }
}
