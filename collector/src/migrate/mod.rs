//! `waymark migrate --to clickhouse`: a SQLite store's history moved into
//! ClickHouse by one command, resumable, and checked at the end.
//!
//! Policy:
//! - what a user would otherwise lose moves with the events: bot counts,
//!   the audit log, the dashboard users kept in the database, and the
//!   cookieless salts of today and yesterday, so a cookieless visitor of
//!   today is the same visitor after the move. Sign-ins do not (users sign
//!   in again), nor older salts (deleted by policy anyway);
//! - events move as they were stored, every column, in pages of many
//!   thousand rows per insert. Sessions are not copied: the ClickHouse
//!   store's rebuild recomputes them from the copied events by the same
//!   rule (each site's, from the config), as a live collector would have;
//! - the target is a database only moves have written: one holding events
//!   that no move copied is refused, since the check below could not hold;
//! - stopped at any point (killed, the server gone) and run again, a move
//!   goes on where it was and adds nothing twice: events by a marker after
//!   each page (a page written but not marked is written again, which the
//!   events' keys absorb: see `store::clickhouse::schema`); the small tables
//!   as what ClickHouse lacks of them (bot counts by the difference per
//!   site, day and bot; audit records and users not there yet; salts of
//!   days without one); the rebuild is a recompute and runs every time.
//!   A move after the collector ran on SQLite again copies what is new:
//!   each site's day where ClickHouse holds fewer events is copied again;
//! - the proof: events and sessions per site and UTC day, both stores side
//!   by side ([`verify`]); the first day that differs fails the command.
//!
//! Mechanism: the source is [`SqliteSource`] (and the SQLite accounts);
//! the target is [`ClickhouseImport`] for events, salts and the marker,
//! and the ClickHouse store itself, through the write seam, for the
//! rebuild, bot counts and audit records, and its accounts for users.
//! What happens is reported as [`Step`]s; [`progress`] shows them.

pub mod progress;
pub mod verify;

use std::collections::HashMap;
use std::time::Instant;

use crate::clock::{Clock, DAY_MS, SystemClock, day_of};
use crate::config::Config;
use crate::server::{DataDirError, lock_data_dir, open_accounts};
use crate::store::accounts::Accounts;
use crate::store::clickhouse::import::{ClickhouseImport, Mark};
use crate::store::clickhouse::schema::SchemaError;
use crate::store::clickhouse::{ClickhouseStore, Connection, StoreOptions};
use crate::store::clickhouse::client::ClientError;
use crate::store::lifecycle::AuditRecord;
use crate::store::sqlite::{SqliteAccounts, SqliteSource};
use crate::store::{BotHit, Store, StoreError};
pub use progress::Step;
use verify::Comparison;

/// Events per insert unless `--page-rows` says otherwise: ClickHouse
/// wants thousands of rows per insert; a page of these is ~12 MB of JSON.
pub const DEFAULT_PAGE_ROWS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "no SQLite store in {0}: point --data-dir (or data_dir in the config) at the directory that holds waymark.db"
    )]
    NoSource(String),
    #[error(
        "migrate --to clickhouse needs the ClickHouse server: set [store] backend = \"clickhouse\" and url in the \
         config (or WAYMARK_STORE__BACKEND=clickhouse and WAYMARK_STORE__URL), or pass --url"
    )]
    NoTarget,
    #[error(
        "the ClickHouse database {database:?} already holds {events} events that no `waymark migrate` copied: \
         move into a new database (--database, or [store] database)"
    )]
    NotEmpty { database: String, events: u64 },
    #[error(transparent)]
    Locked(#[from] DataDirError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<ClientError> for MigrateError {
    fn from(e: ClientError) -> MigrateError {
        MigrateError::Store(e.into())
    }
}

impl From<SchemaError> for MigrateError {
    fn from(e: SchemaError) -> MigrateError {
        match e {
            SchemaError::Client(c) => c.into(),
            newer => MigrateError::Store(StoreError::Backend(newer.to_string())),
        }
    }
}

/// The marker's name for the events' copy.
const EVENTS: &str = "events";

/// What a move did and found.
#[derive(Debug)]
pub struct Moved {
    pub source: String,
    pub target: String,
    /// Events written by this run (the rest were there from an earlier one).
    pub events_written: u64,
    pub comparison: Comparison,
}

/// Moves the SQLite store in `config.data_dir` into the ClickHouse
/// database `config.store` names, reporting each step to `report`. Holds
/// the data directory meanwhile: a collector running on it is refused.
pub async fn to_clickhouse(config: &Config, page_rows: usize, report: &mut dyn FnMut(Step)) -> Result<Moved, MigrateError> {
    let connection = Connection::of(&config.store).ok_or(MigrateError::NoTarget)?.patient();
    let no_source = || MigrateError::NoSource(config.data_dir.display().to_string());
    // Looked for before the lock, which would create the directory.
    if !SqliteSource::is_in(&config.data_dir) {
        return Err(no_source());
    }
    let _lock = lock_data_dir(&config.data_dir)?;
    let source = SqliteSource::open(&config.data_dir)?.ok_or_else(no_source)?;
    let mut target = ClickhouseImport::open(connection.clone()).await?;
    let mut events_written = copy_events(&source, &mut target, page_rows.max(1), report).await?;
    events_written += catch_up(&source, &mut target, page_rows.max(1), report).await?;

    // The store's own writer, with each site's session rule, for the rest.
    let rules = config.sites.iter().map(|s| (s.key.clone(), s.session_rule())).collect();
    let options = StoreOptions { session_rules: rules, ..StoreOptions::default() };
    let store = tokio::task::spawn_blocking(move || ClickhouseStore::open(connection, options))
        .await
        .map_err(|e| StoreError::Backend(format!("opening the ClickHouse store: {e}")))??;
    let moved = move_the_rest(config, &source, &target, &store, report).await;
    store.close().await;
    moved?;

    let comparison = Comparison::of(
        &source.events_per_day()?,
        &target.events_per_day().await?,
        &source.sessions_per_day()?,
        &target.sessions_per_day().await?,
    );
    Ok(Moved {
        source: source.path().display().to_string(),
        target: format!("ClickHouse at {}, database {}", target.connection().url, target.connection().database),
        events_written,
        comparison,
    })
}

/// Copies the events after the marker, a page per insert; answers how many
/// this run wrote.
async fn copy_events(
    source: &SqliteSource,
    target: &mut ClickhouseImport,
    page_rows: usize,
    report: &mut dyn FnMut(Step),
) -> Result<u64, MigrateError> {
    let total = source.event_count()?;
    let mark = target.mark(EVENTS).await?;
    if mark.is_none() {
        let events = target.event_count().await?;
        if events > 0 {
            return Err(MigrateError::NotEmpty { database: target.connection().database.clone(), events });
        }
    }
    let mut mark = match mark {
        Some(mark) => mark,
        None => {
            // Marked before the first insert: a run stopped right after it
            // is a move to resume, not a database someone else filled.
            let start = Mark { after_site: String::new(), after_id: String::new(), copied: 0 };
            target.set_mark(EVENTS, &start).await?;
            start
        }
    };
    report(Step::Start { table: EVENTS, done: mark.copied, total });
    let started = Instant::now();
    let (mut written, mut pages) = (0u64, 0u64);
    loop {
        let after = (!mark.after_site.is_empty()).then(|| (mark.after_site.clone(), mark.after_id.clone()));
        let page = source.events_after(after.as_ref(), page_rows)?;
        let Some(last) = page.last() else { break };
        target.insert_events(&page).await?;
        pages += 1;
        report(Step::Inserted { table: EVENTS, pages });
        written += page.len() as u64;
        mark = Mark { after_site: last.site.clone(), after_id: last.id.clone(), copied: mark.copied + page.len() as u64 };
        target.set_mark(EVENTS, &mark).await?;
        let seconds = started.elapsed().as_secs_f64();
        report(Step::Copied { table: EVENTS, done: mark.copied, total, per_second: written as f64 / seconds.max(1e-3) });
    }
    report(Step::Done { table: EVENTS, written, total: mark.copied.max(total), seconds: started.elapsed().as_secs_f64() });
    Ok(written)
}

/// Copies again each day of a site where ClickHouse holds fewer events
/// than SQLite: what SQLite stored after an earlier run had copied past
/// its key (the collector ran on it between two moves). Answers how many
/// events it wrote, the day's events already there included.
async fn catch_up(
    source: &SqliteSource,
    target: &mut ClickhouseImport,
    page_rows: usize,
    report: &mut dyn FnMut(Step),
) -> Result<u64, MigrateError> {
    let there = target.events_per_day().await?;
    let behind: Vec<((String, i64), u64)> =
        source.events_per_day()?.into_iter().filter(|(key, n)| there.get(key).is_none_or(|have| have < n)).collect();
    if behind.is_empty() {
        return Ok(0);
    }
    const TABLE: &str = "events of days behind";
    let total = behind.iter().map(|(_, n)| n).sum();
    report(Step::Start { table: TABLE, done: 0, total });
    let (started, mut written, mut pages) = (Instant::now(), 0u64, 0u64);
    for ((site, day), _) in &behind {
        let (mut after, to_ts) = ((day * DAY_MS, String::new()), (day + 1) * DAY_MS);
        loop {
            let page = source.events_before(site, to_ts, (after.0, &after.1), page_rows)?;
            let Some(last) = page.last() else { break };
            after = (last.ts, last.id.clone());
            target.insert_events(&page).await?;
            pages += 1;
            report(Step::Inserted { table: TABLE, pages });
            written += page.len() as u64;
            report(Step::Copied { table: TABLE, done: written, total, per_second: written as f64 / started.elapsed().as_secs_f64().max(1e-3) });
        }
    }
    report(Step::Done { table: TABLE, written, total, seconds: started.elapsed().as_secs_f64() });
    Ok(written)
}

/// Sessions, bot counts, the audit log, users and salts.
async fn move_the_rest(
    config: &Config,
    source: &SqliteSource,
    target: &ClickhouseImport,
    store: &dyn Store,
    report: &mut dyn FnMut(Step),
) -> Result<(), MigrateError> {
    report(Step::Rebuilding);
    let started = Instant::now();
    let rebuilt = store.rebuild_sessions().await?;
    report(Step::Rebuilt { sessions: rebuilt.sessions as u64, events: rebuilt.events as u64, seconds: started.elapsed().as_secs_f64() });

    let started = Instant::now();
    let hits = source.bot_hits()?;
    let missing = missing_bot_hits(&hits, store).await?;
    let written = missing.len() as u64;
    if !missing.is_empty() {
        store.count_bots(missing).await?;
    }
    report(Step::Done { table: "bot counts", written, total: hits.len() as u64, seconds: started.elapsed().as_secs_f64() });

    let started = Instant::now();
    let records = source.audit()?;
    let missing = missing_audit(&records, &store.audit(None).await?);
    let written = missing.len() as u64;
    for record in missing {
        store.record_audit(record).await?;
    }
    report(Step::Done { table: "audit log", written, total: records.len() as u64, seconds: started.elapsed().as_secs_f64() });

    let started = Instant::now();
    let (written, total) = move_users(config).await?;
    report(Step::Done { table: "dashboard users", written, total, seconds: started.elapsed().as_secs_f64() });

    let started = Instant::now();
    let salts = source.salts_since(day_of(SystemClock.now_ms()) - 1)?;
    let mut written = 0;
    for (day, salt) in &salts {
        written += u64::from(target.keep_salt(*day, salt).await?);
    }
    report(Step::Done { table: "salts", written, total: salts.len() as u64, seconds: started.elapsed().as_secs_f64() });
    Ok(())
}

/// What ClickHouse lacks of SQLite's bot counts, per site, day and bot.
async fn missing_bot_hits(hits: &[BotHit], store: &dyn Store) -> Result<Vec<BotHit>, StoreError> {
    let mut there: HashMap<(String, String, String), i64> = HashMap::new();
    let mut sites: Vec<&str> = hits.iter().map(|h| h.site.as_str()).collect();
    sites.dedup();
    for site in sites {
        for h in store.bot_hits(site).await? {
            there.insert((h.site, h.day, h.bot), h.hits);
        }
    }
    Ok(hits
        .iter()
        .filter_map(|h| {
            let have = there.get(&(h.site.clone(), h.day.clone(), h.bot.clone())).copied().unwrap_or(0);
            (h.hits > have).then(|| BotHit { hits: h.hits - have, ..h.clone() })
        })
        .collect())
}

/// SQLite's audit records that ClickHouse does not hold, in order (a
/// record twice in SQLite is looked for twice).
fn missing_audit(records: &[AuditRecord], there: &[AuditRecord]) -> Vec<AuditRecord> {
    let key = |r: &AuditRecord| (r.at_ms, r.site.clone(), r.kind.as_str(), r.rows_removed, r.requested_by.clone());
    let mut held: HashMap<_, usize> = HashMap::new();
    for r in there {
        *held.entry(key(r)).or_default() += 1;
    }
    records
        .iter()
        .filter(|r| match held.get_mut(&key(r)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// Adds the SQLite store's dashboard users that ClickHouse lacks (a name
/// taken there keeps its user there); answers (added, SQLite's users).
async fn move_users(config: &Config) -> Result<(u64, u64), MigrateError> {
    let config = config.clone();
    let moved = tokio::task::spawn_blocking(move || -> Result<(u64, u64), StoreError> {
        let users = SqliteAccounts::open_in(&config.data_dir)?.users()?;
        let target = open_accounts(&config)?;
        let now = SystemClock.now_ms();
        let mut added = 0;
        for user in &users {
            added += u64::from(target.add_user(user, now)?);
        }
        Ok((added, users.len() as u64))
    })
    .await
    .map_err(|e| StoreError::Backend(format!("moving the users: {e}")))??;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lifecycle::AuditKind;

    fn record(at_ms: i64, rows_removed: u64) -> AuditRecord {
        AuditRecord { at_ms, site: "shop".into(), kind: AuditKind::Retention, rows_removed, requested_by: "retention".into() }
    }

    #[test]
    fn audit_records_already_moved_are_not_moved_again_and_repeated_ones_count_each() {
        let sqlite = [record(1, 5), record(1, 5), record(2, 0)];
        assert_eq!(missing_audit(&sqlite, &[record(1, 5)]), [record(1, 5), record(2, 0)]);
        assert_eq!(missing_audit(&sqlite, &sqlite), []);
    }
}
