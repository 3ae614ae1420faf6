//! `waymark sessions rebuild` on ClickHouse: every session recomputed from
//! the stored events by the current rule; the new sessions written as new
//! versions, tombstones for the sessions that no longer exist, and the
//! events whose session changed written again under it.

use std::collections::HashSet;

use super::client::lit;
use super::db::Db;
use super::rows::{EVENT_COLUMNS, EventWrite, LIVE_SESSIONS, SessionRow, Versions};
use crate::event::StoredEvent;
use crate::ingest::group::Rules;
use crate::sessions;
use crate::store::{Rebuilt, StoreError};

#[derive(serde::Deserialize)]
struct Existing {
    site: String,
    id: String,
    visitor_id: String,
}

pub(super) fn rebuild(db: &Db, rules: &impl Rules, versions: &mut Versions) -> Result<Rebuilt, StoreError> {
    rebuild_where(db, rules, versions, "1")
}

/// The same, for the visitors (site, visitor key) named only: what a
/// failed write may have left without its sessions.
pub(super) fn rebuild_visitors(
    db: &Db,
    rules: &impl Rules,
    versions: &mut Versions,
    visitors: &[(String, String)],
) -> Result<Rebuilt, StoreError> {
    if visitors.is_empty() {
        return Ok(Rebuilt { events: 0, sessions: 0 });
    }
    let list: Vec<String> = visitors.iter().map(|(s, v)| format!("({}, {})", lit(s), lit(v))).collect();
    rebuild_where(db, rules, versions, &format!("(site, visitor_id) IN ({})", list.join(", ")))
}

fn rebuild_where(db: &Db, rules: &impl Rules, versions: &mut Versions, which: &str) -> Result<Rebuilt, StoreError> {
    let events: Vec<StoredEvent> =
        db.rows(&format!("SELECT {EVENT_COLUMNS} FROM events FINAL WHERE {which} ORDER BY site, visitor_id, ts, id"))?;
    let mut rows: Vec<SessionRow> = Vec::new();
    let mut moved: Vec<StoredEvent> = Vec::new();
    for visitor in events.chunk_by(|a, b| a.site == b.site && a.visitor_id == b.visitor_id) {
        let refs: Vec<&StoredEvent> = visitor.iter().collect();
        for (session, range) in sessions::sessionize(&refs, rules.of(&visitor[0].site)) {
            moved.extend(
                visitor[range]
                    .iter()
                    .filter(|e| e.session_id != session.id)
                    .map(|e| StoredEvent { session_id: session.id.clone(), ..e.clone() }),
            );
            rows.push(SessionRow::live(&session, versions.next()));
        }
    }
    let report = Rebuilt { events: events.len(), sessions: rows.len() };
    let kept: HashSet<(String, String)> = rows.iter().map(|r| (r.site.clone(), r.id.clone())).collect();
    let existing: Vec<Existing> = db.rows(&format!("SELECT site, id, visitor_id FROM {LIVE_SESSIONS} AND {which}"))?;
    for old in existing.into_iter().filter(|s| !kept.contains(&(s.site.clone(), s.id.clone()))) {
        rows.push(SessionRow::tombstone(&old.site, &old.id, &old.visitor_id, versions.next()));
    }
    let writes: Vec<EventWrite> = moved.iter().map(|event| EventWrite { event, version: versions.next() }).collect();
    db.insert("events", &writes)?;
    db.insert("sessions", &rows)?;
    Ok(report)
}
