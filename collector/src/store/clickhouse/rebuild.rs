//! `waymark sessions rebuild` on ClickHouse: every session recomputed from
//! the stored events by the current rule; the new sessions written as new
//! versions, tombstones for the sessions that no longer exist, and the
//! events whose session changed written again under it.
//!
//! A visitor's sessions depend on their events only, so the visitors go
//! in slices (by a hash of site and visitor), each read and written on its
//! own: no statement reads more than about [`EVENTS_PER_SLICE`] events
//! (each statement has the client's timeout) and the writer holds one
//! slice in memory. Each slice scans the table, so a rebuild costs
//! (events / slice) scans: minutes for tens of millions of events.

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
    start_ts: i64,
}

/// Events a slice of the visitors should hold, about.
const EVENTS_PER_SLICE: u64 = 200_000;

pub(super) fn rebuild(db: &Db, rules: &impl Rules, versions: &mut Versions) -> Result<Rebuilt, StoreError> {
    rebuild_in_slices(db, rules, versions, EVENTS_PER_SLICE)
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
    rebuild_slice(db, rules, versions, &format!("(site, visitor_id) IN ({})", list.join(", ")))
}

fn rebuild_in_slices(db: &Db, rules: &impl Rules, versions: &mut Versions, events_per_slice: u64) -> Result<Rebuilt, StoreError> {
    let slices = db.count("SELECT count() AS n FROM events FINAL")?.div_ceil(events_per_slice).max(1);
    let mut report = Rebuilt { events: 0, sessions: 0 };
    for slice in 0..slices {
        let rebuilt = rebuild_slice(db, rules, versions, &format!("cityHash64(site, visitor_id) % {slices} = {slice}"))?;
        report.events += rebuilt.events;
        report.sessions += rebuilt.sessions;
    }
    Ok(report)
}

/// The sessions of the visitors `of_slice` selects (a row's site and
/// visitor never change between its versions, so this may filter after `FINAL`).
fn rebuild_slice(db: &Db, rules: &impl Rules, versions: &mut Versions, of_slice: &str) -> Result<Rebuilt, StoreError> {
    let events: Vec<StoredEvent> =
        db.rows(&format!("SELECT {EVENT_COLUMNS} FROM events FINAL WHERE {of_slice} ORDER BY site, visitor_id, ts, id"))?;
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
    let existing: Vec<Existing> = db.rows(&format!("SELECT site, id, visitor_id, start_ts FROM {LIVE_SESSIONS} AND {of_slice}"))?;
    for old in existing.into_iter().filter(|s| !kept.contains(&(s.site.clone(), s.id.clone()))) {
        rows.push(SessionRow::tombstone(&old.site, &old.id, &old.visitor_id, old.start_ts, versions.next()));
    }
    let writes: Vec<EventWrite> = moved.iter().map(|event| EventWrite { event, version: versions.next() }).collect();
    db.insert("events", &writes)?;
    db.insert("sessions", &rows)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ingest::group::SiteRules;
    use crate::store::Store;
    use crate::store::clickhouse::{Client, ClickhouseStore, StoreOptions, test_connection, test_server};
    use crate::store::conformance::{T0, pageview};

    #[tokio::test]
    async fn a_rebuild_in_slices_of_the_visitors_gives_the_sessions_of_one_pass() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = ClickhouseStore::open(test_connection(dir.path()), StoreOptions::default()).unwrap();
        // Each visitor's events 4, 12, 20, 28 and 36 minutes apart: two visits each.
        let at = |n: u64| T0 + (n as i64 / 4).pow(2) * 4 * 60_000;
        let events = (0..24u64).map(|n| pageview(n, ["anna", "ben", "cara", "dan"][(n % 4) as usize], at(n)));
        store.append(events.collect()).await.unwrap();
        let live = store.sessions("site").await.unwrap();
        assert_eq!(live.len(), 8, "{live:?}");

        let db = Db::new(Client::new(test_connection(dir.path()))).unwrap();
        let rebuilt = tokio::task::spawn_blocking(move || {
            rebuild_in_slices(&db, &SiteRules(HashMap::new()), &mut Versions::default(), 5).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(rebuilt, Rebuilt { events: 24, sessions: live.len() });
        assert_eq!(store.sessions("site").await.unwrap(), live);
        store.close().await;
    }
}
