//! The lifecycle's writes on ClickHouse, by the policy of
//! `store::lifecycle`: a bounded retention chunk, the erasure of a person
//! or a site, audit records; and the counts a dry run reads.
//!
//! Mechanism: rows really go (`ALTER TABLE … DELETE`, a mutation the
//! writer waits for: see `db`), every version of them, so an erased
//! person leaves no row behind, old versions included. Rows are chosen
//! through their latest versions, then deleted by key (an event by its id,
//! not by a session id an older version of it may still carry). A
//! mutation rewrites each part that holds a matching row: a chunk costs
//! the size of the parts it touches, so retention runs are heavier than
//! on SQLite; they are rare. The audit log's rows keep their order by
//! `(at_ms, seq)`, `seq` being the writer's row version.

use std::collections::BTreeMap;

use super::client::{Client, ClientError, lit, lits};
use super::db::Db;
use super::identity::{VisitorRow, visitors_sql};
use super::rows::{LIVE_SESSIONS, Versions};
use crate::clock::{DAY_MS, day_label};
use crate::store::StoreError;
use crate::store::lifecycle::{AuditKind, AuditRecord, DayCount, Deleted, Erased, Selector, bot_day_bound};

/// A write's result and the visitors the writer must forget.
pub(super) struct Removed<T> {
    pub result: T,
    pub visitors: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Candidate {
    id: String,
    visitor_id: String,
    events: i64,
}

#[derive(serde::Deserialize)]
struct Id {
    id: String,
}

/// One chunk: at most `max_rows` rows (at least one session) of the
/// oldest sessions of `site` that ended before `before_ms`, with their
/// events, and the bot days before the cut-off's day.
pub(super) fn delete_before(db: &Db, site: &str, before_ms: i64, max_rows: usize) -> Result<Removed<Deleted>, StoreError> {
    let key = lit(site);
    let candidates: Vec<Candidate> = db.rows(&format!(
        "SELECT id, visitor_id, events FROM {LIVE_SESSIONS} AND site = {key} AND start_ts < {before_ms} AND end_ts < {before_ms}
         ORDER BY start_ts, id LIMIT {}",
        max_rows.max(1)
    ))?;
    let mut chosen: Vec<&Candidate> = Vec::new();
    let mut rows = 0usize;
    for c in &candidates {
        let cost = c.events.max(0) as usize + 1;
        if rows > 0 && rows + cost > max_rows {
            break;
        }
        rows += cost;
        chosen.push(c);
    }
    let mut deleted = Deleted::default();
    if !chosen.is_empty() {
        let sessions = lits(chosen.iter().map(|c| c.id.as_str()));
        let events: Vec<Id> = db.rows(&format!("SELECT id FROM events FINAL WHERE site = {key} AND session_id IN {sessions}"))?;
        deleted.events = events.len() as u64;
        deleted.sessions = chosen.len() as u64;
        if !events.is_empty() {
            let ids = format!("site = {key} AND id IN {}", lits(events.iter().map(|e| e.id.as_str())));
            db.delete("events", &ids)?;
            db.delete("event_keys", &ids)?;
        }
        db.delete("sessions", &format!("site = {key} AND id IN {sessions}"))?;
    }
    // Visitors left without sessions are left without events: their
    // user ids go too.
    if !chosen.is_empty() {
        let touched = lits(chosen.iter().map(|c| c.visitor_id.as_str()));
        let kept: Vec<VisitorRow> =
            db.rows(&format!("SELECT DISTINCT visitor_id FROM {LIVE_SESSIONS} AND site = {key} AND visitor_id IN {touched}"))?;
        let kept: std::collections::HashSet<&str> = kept.iter().map(|r| r.visitor_id.as_str()).collect();
        let gone: Vec<&str> = chosen.iter().map(|c| c.visitor_id.as_str()).filter(|v| !kept.contains(v)).collect();
        if !gone.is_empty() {
            db.delete("identity_links", &format!("site = {key} AND visitor_id IN {}", lits(gone)))?;
        }
    }
    let bots = format!("site = {key} AND day < {}", lit(&bot_day_bound(before_ms)));
    deleted.bot_days = db.count(&format!("SELECT count() AS n FROM (SELECT day, bot FROM bot_hits WHERE {bots} GROUP BY day, bot)"))?;
    if deleted.bot_days > 0 {
        db.delete("bot_hits", &bots)?;
    }
    let mut visitors: Vec<String> = chosen.iter().map(|c| c.visitor_id.clone()).collect();
    visitors.sort();
    visitors.dedup();
    Ok(Removed { result: deleted, visitors })
}

/// Erases the person `selector` names (every event and session of each of
/// their visitors), or everything of the site, and records it.
pub(super) fn erase(
    db: &Db,
    site: &str,
    selector: &Selector,
    at_ms: i64,
    requested_by: &str,
    earlier: Erased,
    versions: &mut Versions,
) -> Result<Removed<Erased>, StoreError> {
    let key = lit(site);
    let visitors: Vec<String> = db.rows::<VisitorRow>(&visitors_sql(site, selector))?.into_iter().map(|r| r.visitor_id).collect();
    let mut erased = earlier;
    let whose = match selector {
        Selector::Site => format!("site = {key}"),
        _ => format!("site = {key} AND visitor_id IN {}", lits(visitors.iter().map(String::as_str))),
    };
    if !visitors.is_empty() || *selector == Selector::Site {
        erased.visitors += visitors.len() as u64;
        erased.sessions += db.count(&format!("SELECT count() AS n FROM {LIVE_SESSIONS} AND {whose}"))?;
        erased.events += db.count(&format!("SELECT count() AS n FROM events FINAL WHERE {whose}"))?;
        db.delete("events", &whose)?;
        db.delete("event_keys", &whose)?;
        db.delete("sessions", &whose)?;
        // Rows a sessionizer has not yet made events of, or made already.
        let arriving = match selector {
            Selector::Site => whose.clone(),
            _ => format!("{whose} OR (site = {key} AND visitor_id_yesterday IN {})", lits(visitors.iter().map(String::as_str))),
        };
        db.delete("incoming", &arriving)?;
        db.delete("identity_links", &whose)?;
        if *selector == Selector::Site {
            db.delete("bot_hits", &whose)?;
        }
    }
    let record = AuditRecord {
        at_ms,
        site: site.to_owned(),
        kind: selector.kind(),
        rows_removed: erased.rows(),
        requested_by: requested_by.to_owned(),
    };
    insert_audit(db, &record, versions)?;
    Ok(Removed { result: erased, visitors })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AuditRow {
    at_ms: i64,
    #[serde(skip_deserializing)]
    seq: u64,
    site: String,
    kind: String,
    rows_removed: u64,
    requested_by: String,
}

pub(super) fn insert_audit(db: &Db, record: &AuditRecord, versions: &mut Versions) -> Result<(), StoreError> {
    let row = AuditRow {
        at_ms: record.at_ms,
        seq: versions.next(),
        site: record.site.clone(),
        kind: record.kind.as_str().to_owned(),
        rows_removed: record.rows_removed,
        requested_by: record.requested_by.clone(),
    };
    db.insert("audit_log", &[row])
}

/// The audit log, oldest first; one site's or every site's.
pub(super) async fn audit(client: &Client, site: Option<&str>) -> Result<Vec<AuditRecord>, ClientError> {
    let only = site.map(|s| format!("WHERE site = {}", lit(s))).unwrap_or_default();
    let rows: Vec<AuditRow> =
        client.rows(&format!("SELECT at_ms, site, kind, rows_removed, requested_by FROM audit_log {only} ORDER BY at_ms, seq")).await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRecord {
            at_ms: r.at_ms,
            site: r.site,
            kind: AuditKind::parse(&r.kind).unwrap_or(AuditKind::Site),
            rows_removed: r.rows_removed,
            requested_by: r.requested_by,
        })
        .collect())
}

#[derive(serde::Deserialize)]
struct SessionDay {
    day: i64,
    sessions: u64,
    events: i64,
}

#[derive(serde::Deserialize)]
struct BotDay {
    day: String,
    n: u64,
}

/// What chunks up to `before_ms` would delete, by the UTC day each session
/// started (its events counted with it), and the bot days.
pub(super) async fn count_before(client: &Client, site: &str, before_ms: i64) -> Result<Vec<DayCount>, ClientError> {
    let key = lit(site);
    let sessions: Vec<SessionDay> = client
        .rows(&format!(
            "SELECT intDiv(start_ts, {DAY_MS}) AS day, count() AS sessions, sum(events) AS events FROM {LIVE_SESSIONS}
             AND site = {key} AND start_ts < {before_ms} AND end_ts < {before_ms} GROUP BY day"
        ))
        .await?;
    let bots: Vec<BotDay> = client
        .rows(&format!(
            "SELECT day, count() AS n FROM (SELECT day, bot FROM bot_hits WHERE site = {key} AND day < {} GROUP BY day, bot) GROUP BY day",
            lit(&bot_day_bound(before_ms))
        ))
        .await?;
    let mut days: BTreeMap<String, DayCount> = BTreeMap::new();
    let blank = |day: String| DayCount { day, sessions: 0, events: 0, bot_days: 0 };
    for s in sessions {
        let label = day_label(s.day);
        let entry = days.entry(label.clone()).or_insert_with(|| blank(label));
        entry.sessions += s.sessions;
        entry.events += s.events.max(0) as u64;
    }
    for b in bots {
        days.entry(b.day.clone()).or_insert_with(|| blank(b.day)).bot_days += b.n;
    }
    Ok(days.into_values().collect())
}
