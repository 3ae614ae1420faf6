//! What the pipeline reads of the stored state while it plans a group
//! ([`StoredState`]), answered inside the writer's transaction, and for
//! recent visitors from what the writer remembers of its commits
//! ([`Tails`]) without reading the database.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{EVENT_COLUMNS, SESSION_COLUMNS, event_from_row, session_from_row};
use crate::event::StoredEvent;
use crate::sessions::{self, Session};
use crate::store::tails::Tails;
use crate::store::{SessionSpan, StoredState};

/// The stored state as one transaction sees it.
pub(super) struct InTransaction<'a> {
    pub tx: &'a Connection,
    pub tails: &'a Tails,
}

impl StoredState for InTransaction<'_> {
    type Error = rusqlite::Error;

    fn is_stored(&mut self, site: &str, id: &str) -> rusqlite::Result<bool> {
        self.tx.prepare_cached("SELECT 1 FROM events WHERE site = ?1 AND id = ?2")?.exists(params![site, id])
    }

    fn latest_event(&mut self, site: &str, visitor: &str) -> rusqlite::Result<Option<StoredEvent>> {
        match self.tails.get(site, visitor) {
            Some(tail) => Ok(Some(tail.last_event())),
            None => latest_event(self.tx, site, visitor),
        }
    }

    fn session(&mut self, site: &str, visitor: &str, id: &str) -> rusqlite::Result<Session> {
        match self.tails.get(site, visitor) {
            Some(tail) if tail.session.id == id => Ok(tail.session.clone()),
            _ => load_session(self.tx, site, id),
        }
    }

    fn one_client(&mut self, site: &str, visitor: &str, session: &str) -> rusqlite::Result<bool> {
        Ok(self.tails.get(site, visitor).is_some_and(|tail| tail.one_client(session)))
    }

    fn sessions_overlapping(&mut self, site: &str, visitor: &str, from: i64, to: i64, limit: usize) -> rusqlite::Result<Vec<SessionSpan>> {
        sessions_overlapping(self.tx, site, visitor, from, to, limit)
    }

    fn events_of(&mut self, site: &str, sessions: &[SessionSpan]) -> rusqlite::Result<Vec<StoredEvent>> {
        let mut load = self.tx.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE site = ?1 AND session_id = ?2"))?;
        let mut events = Vec::new();
        for s in sessions {
            for e in load.query_map(params![site, s.id], event_from_row)? {
                events.push(e?);
            }
        }
        Ok(events)
    }
}

/// Walks the visitor's sessions that start by `to`, the latest start
/// first, giving each (id, start, end) to `visit` until it says stop.
/// A visitor's sessions follow one another, so its callers stop after a few.
fn walk_back_sessions(
    tx: &Connection,
    site: &str,
    visitor: &str,
    to: i64,
    mut visit: impl FnMut(String, i64, i64) -> std::ops::ControlFlow<()>,
) -> rusqlite::Result<()> {
    let mut newest_first = tx.prepare_cached(
        "SELECT id, start_ts, end_ts FROM sessions WHERE site = ?1 AND visitor_id = ?2 AND start_ts <= ?3 ORDER BY start_ts DESC",
    )?;
    let mut rows = newest_first.query(params![site, visitor, to])?;
    while let Some(row) = rows.next()? {
        if visit(row.get(0)?, row.get(1)?, row.get(2)?).is_break() {
            break;
        }
    }
    Ok(())
}

/// The visitor's sessions that overlap `[from, to]` (at most
/// `limit`). Walking back from the last to start by `to`, the first to end
/// before `from` (with those that start at the same moment) is the last to
/// read: every earlier one ended before it began.
fn sessions_overlapping(tx: &Connection, site: &str, visitor: &str, from: i64, to: i64, limit: usize) -> rusqlite::Result<Vec<SessionSpan>> {
    use std::ops::ControlFlow::{Break, Continue};
    let mut found = Vec::new();
    let mut ended_before: Option<i64> = None;
    walk_back_sessions(tx, site, visitor, to, |id, start, end| {
        if ended_before.is_some_and(|last| start < last) {
            return Break(());
        }
        if end >= from {
            found.push(SessionSpan { id, start_ts: start, end_ts: end });
            if found.len() >= limit {
                return Break(());
            }
        } else {
            ended_before = Some(start);
        }
        Continue(())
    })?;
    Ok(found)
}

/// What the session rule reads of the visitor's latest stored event. It
/// is in the visitor's session that starts last (sessions follow one
/// another; when two start at the same moment, the one whose last event
/// comes later).
fn latest_event(tx: &Connection, site: &str, visitor: &str) -> rusqlite::Result<Option<StoredEvent>> {
    use std::ops::ControlFlow::{Break, Continue};
    let mut last_sessions: Vec<String> = Vec::new();
    let mut last_start: Option<i64> = None;
    walk_back_sessions(tx, site, visitor, i64::MAX, |id, start, _| {
        if last_start.is_some_and(|last| last != start) {
            return Break(());
        }
        last_start = Some(start);
        last_sessions.push(id);
        Continue(())
    })?;
    let mut last_event = tx.prepare_cached(
        "SELECT ts, id, client_session_id FROM events WHERE site = ?1 AND session_id = ?2 ORDER BY ts DESC, id DESC LIMIT 1",
    )?;
    let mut latest: Option<StoredEvent> = None;
    for session_id in last_sessions {
        let event = last_event
            .query_row(params![site, session_id], |r| {
                Ok(StoredEvent { ts: r.get(0)?, id: r.get(1)?, client_session_id: r.get(2)?, ..StoredEvent::default() })
            })
            .optional()?;
        if let Some(event) = event
            && latest.as_ref().is_none_or(|l| sessions::order(l, &event).is_lt())
        {
            latest = Some(StoredEvent { session_id, ..event });
        }
    }
    Ok(latest)
}

fn load_session(tx: &Connection, site: &str, id: &str) -> rusqlite::Result<Session> {
    tx.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE site = ?1 AND id = ?2"))?
        .query_row(params![site, id], session_from_row)
}

