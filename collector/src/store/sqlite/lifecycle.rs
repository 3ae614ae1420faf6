//! The lifecycle's writes on SQLite: a bounded retention chunk, the erasure
//! of a person or what remains of a site, audit records; and the counts a
//! dry run reads. The writer thread runs each write as its own short
//! transaction between two groups of appends (see `writer`), so ingest
//! waits at most one chunk.
//!
//! Mechanism:
//! - a chunk takes the oldest sessions that ended before the cut-off, as
//!   many as keep its rows (each session and its events) within the
//!   bound, and deletes them with their events (`events_by_session`);
//!   whole sessions only, so the sessions that stay are what a rebuild
//!   from the events that stay gives (`store::lifecycle`);
//! - `event_slots` lose each deleted event's count through the delete
//!   trigger of `query_indexes.sql`; slots that reach zero are deleted;
//!   `bot_hits` days before the cut-off's day go;
//! - the writer's connection runs with `secure_delete`, so deleted rows
//!   are overwritten with zeros in their pages, and after an erasure the
//!   writer checkpoints and truncates the WAL (`writer`), so no old page
//!   image of the person's rows is left in either file. (A database
//!   written before `secure_delete` was on may still hold fragments of
//!   old rows in its free space: `VACUUM`, with the collector stopped,
//!   rewrites it without them.)
//!
//! Every event belongs to a session of its visitor (the writer keeps them
//! together), so a visitor's events are found through their sessions.

use std::collections::BTreeMap;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::identity::visitors_of;
use super::rows::SLOT_MS;
use crate::clock::{DAY_MS, day_label};
use crate::store::lifecycle::{AuditKind, AuditRecord, DayCount, Deleted, Erased, Selector, bot_day_bound};

/// The writer's page cache while it deletes. A delete touches pages all
/// over the indexes keyed by random ids (sessions, and events by session),
/// many more than an append's; with the writer's small cache they spill
/// to the WAL in the middle of the transaction. The cache goes back to
/// its size after the delete.
const DELETE_CACHE_KIB: i64 = 64 * 1024;

/// Runs a lifecycle write with the larger cache, then restores `normal_kib`.
pub(super) fn with_cache<T>(
    conn: &mut Connection,
    normal_kib: i64,
    write: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.pragma_update(None, "cache_size", -DELETE_CACHE_KIB)?;
    let result = write(conn);
    conn.pragma_update(None, "cache_size", -normal_kib)?;
    result
}

/// Rows per transaction when a whole site is erased (its chunks).
pub(super) const SITE_CHUNK_ROWS: usize = 2_000;

/// A write's result and the visitors the writer must forget.
pub(super) struct Removed<T> {
    pub result: T,
    pub visitors: Vec<String>,
}

/// One chunk: at most `max_rows` rows (at least one session) of the
/// oldest sessions of `site` that ended before `before_ms`, with their
/// events.
pub(super) fn delete_before(conn: &mut Connection, site: &str, before_ms: i64, max_rows: usize) -> rusqlite::Result<Removed<Deleted>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let candidates: Vec<(i64, String, String, i64)> = tx
        .prepare_cached(
            "SELECT rowid, id, visitor_id, events FROM sessions
             WHERE site = ?1 AND start_ts < ?2 AND end_ts < ?2 ORDER BY start_ts LIMIT ?3",
        )?
        .query_map(params![site, before_ms, max_rows.max(1) as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut deleted = Deleted::default();
    let mut visitors = Vec::new();
    let mut rows = 0usize;
    for (rowid, id, visitor, events) in candidates {
        let cost = events.max(0) as usize + 1;
        if rows > 0 && rows + cost > max_rows {
            break;
        }
        rows += cost;
        deleted.events += delete_session(&tx, site, rowid, &id)?;
        deleted.sessions += 1;
        visitors.push(visitor);
    }
    // A visitor left without sessions is left without events: their user
    // ids go too (every event belongs to a session of its visitor).
    for visitor in &visitors {
        tx.prepare_cached(
            "DELETE FROM identity_links WHERE site = ?1 AND visitor_id = ?2
             AND NOT EXISTS (SELECT 1 FROM sessions WHERE site = ?1 AND visitor_id = ?2)",
        )?
        .execute(params![site, visitor])?;
    }
    tx.prepare_cached("DELETE FROM event_slots WHERE site = ?1 AND slot <= ?2 AND events <= 0")?
        .execute(params![site, before_ms.div_euclid(SLOT_MS)])?;
    deleted.bot_days = tx.prepare_cached("DELETE FROM bot_hits WHERE site = ?1 AND day < ?2")?.execute(params![site, bot_day_bound(before_ms)])? as u64;
    tx.commit()?;
    visitors.dedup();
    Ok(Removed { result: deleted, visitors })
}

/// A session and its events; the events removed.
fn delete_session(tx: &Transaction, site: &str, rowid: i64, id: &str) -> rusqlite::Result<u64> {
    let events = tx.prepare_cached("DELETE FROM events WHERE site = ?1 AND session_id = ?2")?.execute(params![site, id])?;
    tx.prepare_cached("DELETE FROM sessions WHERE rowid = ?1")?.execute(params![rowid])?;
    Ok(events as u64)
}

/// Erases the person `selector` names (every event and session of each of
/// their visitors), or for [`Selector::Site`] whatever the site still holds
/// after its chunks (`earlier`: what those removed), and records it, in
/// one transaction.
pub(super) fn erase(
    conn: &mut Connection,
    site: &str,
    selector: &Selector,
    at_ms: i64,
    requested_by: &str,
    earlier: Erased,
) -> rusqlite::Result<Removed<Erased>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let visitors = visitors_of(&tx, site, selector)?;
    let mut erased = earlier;
    if *selector == Selector::Site {
        erased.visitors = erased.visitors.max(visitors.len() as u64);
        erased.sessions += tx.prepare_cached("DELETE FROM sessions WHERE site = ?1")?.execute(params![site])? as u64;
        erased.events += tx.prepare_cached("DELETE FROM events WHERE site = ?1")?.execute(params![site])? as u64;
        tx.prepare_cached("DELETE FROM bot_hits WHERE site = ?1")?.execute(params![site])?;
        tx.prepare_cached("DELETE FROM identity_links WHERE site = ?1")?.execute(params![site])?;
    } else {
        for visitor in &visitors {
            let sessions: Vec<(i64, String)> = tx
                .prepare_cached("SELECT rowid, id FROM sessions WHERE site = ?1 AND visitor_id = ?2")?
                .query_map(params![site, visitor], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (rowid, id) in sessions {
                erased.events += delete_session(&tx, site, rowid, &id)?;
                erased.sessions += 1;
            }
            tx.prepare_cached("DELETE FROM identity_links WHERE site = ?1 AND visitor_id = ?2")?.execute(params![site, visitor])?;
            erased.visitors += 1;
        }
    }
    tx.prepare_cached("DELETE FROM event_slots WHERE site = ?1 AND events <= 0")?.execute(params![site])?;
    insert_audit(
        &tx,
        &AuditRecord { at_ms, site: site.to_owned(), kind: selector.kind(), rows_removed: erased.rows(), requested_by: requested_by.to_owned() },
    )?;
    tx.commit()?;
    Ok(Removed { result: erased, visitors })
}

pub(super) fn insert_audit(conn: &Connection, record: &AuditRecord) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO audit_log (at_ms, site, kind, rows_removed, requested_by) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![record.at_ms, record.site, record.kind.as_str(), record.rows_removed as i64, record.requested_by])?;
    Ok(())
}

/// The audit log, oldest first; one site's or every site's.
pub(super) fn audit(conn: &Connection, site: Option<&str>) -> rusqlite::Result<Vec<AuditRecord>> {
    let mut statement = conn.prepare(
        "SELECT at_ms, site, kind, rows_removed, requested_by FROM audit_log
         WHERE ?1 IS NULL OR site = ?1 ORDER BY at_ms, rowid",
    )?;
    statement
        .query_map(params![site], |r| {
            let kind: String = r.get(2)?;
            Ok(AuditRecord {
                at_ms: r.get(0)?,
                site: r.get(1)?,
                kind: AuditKind::parse(&kind).unwrap_or(AuditKind::Site),
                rows_removed: r.get::<_, i64>(3)? as u64,
                requested_by: r.get(4)?,
            })
        })?
        .collect()
}

/// What chunks up to `before_ms` would delete, by the UTC day each session
/// started (its events counted with it), and the bot days.
pub(super) fn count_before(conn: &Connection, site: &str, before_ms: i64) -> rusqlite::Result<Vec<DayCount>> {
    let mut days: BTreeMap<i64, DayCount> = BTreeMap::new();
    let blank = |day: i64| DayCount { day: day_label(day), sessions: 0, events: 0, bot_days: 0 };
    let mut sessions = conn.prepare_cached(
        "SELECT start_ts / ?3, count(*), sum(events) FROM sessions
         WHERE site = ?1 AND start_ts < ?2 AND end_ts < ?2 GROUP BY 1",
    )?;
    for row in sessions.query_map(params![site, before_ms, DAY_MS], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))? {
        let (day, count, events) = row?;
        let entry = days.entry(day).or_insert_with(|| blank(day));
        entry.sessions += count as u64;
        entry.events += events as u64;
    }
    let mut bots = conn.prepare_cached("SELECT day, count(*) FROM bot_hits WHERE site = ?1 AND day < ?2 GROUP BY day")?;
    let mut by_label: BTreeMap<String, DayCount> = days.into_values().map(|d| (d.day.clone(), d)).collect();
    for row in bots.query_map(params![site, bot_day_bound(before_ms)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (day, count) = row?;
        by_label.entry(day.clone()).or_insert_with(|| DayCount { day, sessions: 0, events: 0, bot_days: 0 }).bot_days += count as u64;
    }
    Ok(by_label.into_values().collect())
}
