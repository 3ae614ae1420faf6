//! `waymark sessions rebuild`: every session recomputed from the stored
//! events by the current rule, in one transaction; events whose session
//! changed are moved.

use rusqlite::Connection;

use super::rows::{EVENT_COLUMNS, event_from_row, insert_session, move_event};
use crate::event::StoredEvent;
use crate::sessions;
use crate::store::Rebuilt;
use crate::ingest::group::Rules;

/// Every session, recomputed from `events` in one transaction; events whose
/// session changed are updated. The scan sorts every event by visitor (no
/// index keeps that order): the sort spills to temporary files rather
/// than memory.
pub(super) fn rebuild(conn: &mut Connection, rules: &impl Rules) -> rusqlite::Result<Rebuilt> {
    conn.pragma_update(None, "temp_store", "FILE")?;
    let rebuilt = rebuild_sessions(conn, rules);
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    rebuilt
}

fn rebuild_sessions(conn: &mut Connection, rules: &impl Rules) -> rusqlite::Result<Rebuilt> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM sessions", [])?;
    let mut report = Rebuilt { events: 0, sessions: 0 };
    let mut moved: Vec<(String, String, String)> = Vec::new();
    {
        let mut scan = tx.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY site, visitor_id, ts, id"))?;
        let mut rows = scan.query([])?;
        let mut visitor_events: Vec<StoredEvent> = Vec::new();
        let mut flush = |events: &mut Vec<StoredEvent>, report: &mut Rebuilt| -> rusqlite::Result<()> {
            let Some(first) = events.first() else { return Ok(()) };
            let refs: Vec<&StoredEvent> = events.iter().collect();
            for (session, range) in sessions::sessionize(&refs, rules.of(&first.site)) {
                for e in &events[range] {
                    if e.session_id != session.id {
                        moved.push((e.site.clone(), e.id.clone(), session.id.clone()));
                    }
                }
                insert_session(&tx, &session)?;
                report.sessions += 1;
            }
            report.events += events.len();
            events.clear();
            Ok(())
        };
        while let Some(row) = rows.next()? {
            let e = event_from_row(row)?;
            if visitor_events.first().is_some_and(|f| f.site != e.site || f.visitor_id != e.visitor_id) {
                flush(&mut visitor_events, &mut report)?;
            }
            visitor_events.push(e);
        }
        flush(&mut visitor_events, &mut report)?;
    }
    for (site, id, session_id) in &moved {
        move_event(&tx, site, id, session_id)?;
    }
    tx.commit()?;
    Ok(report)
}

