//! Opening the database file: the connection settings every connection
//! shares (WAL, busy timeout, caches) and the schema migrations, applied in
//! order at open; `PRAGMA user_version` counts those applied.

use std::path::Path;

use rusqlite::Connection;

use crate::config::Durability;
use crate::store::StoreError;

/// The writer's `PRAGMA synchronous`, as SQLite reads it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// 1: in WAL mode, commits are written to the WAL without a flush.
    Normal,
    /// 2: every commit flushes the WAL.
    Full,
}

impl Synchronous {
    /// Sets the writer's flushing for `durability` and reads it back: a
    /// setting SQLite did not take fails the open rather than running with
    /// less than was configured.
    pub(super) fn set(conn: &Connection, durability: Durability) -> Result<Synchronous, StoreError> {
        let (level, wanted) = match durability {
            Durability::Normal => (1, Synchronous::Normal),
            Durability::Full => (2, Synchronous::Full),
        };
        conn.pragma_update(None, "synchronous", level)?;
        let read: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        if read != level {
            return Err(StoreError::Backend(format!("SQLite kept synchronous = {read} where durability asks for {level}")));
        }
        Ok(wanted)
    }
}

/// Schema migrations, applied in order; `PRAGMA user_version` is the count
/// applied so far.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("sql/schema.sql"),
    include_str!("sql/schema_v2.sql"),
    include_str!("sql/query_indexes.sql"),
    include_str!("sql/lighter_writes.sql"),
    include_str!("sql/lifecycle.sql"),
    include_str!("sql/accounts.sql"),
    include_str!("sql/identity.sql"),
    include_str!("sql/definitions.sql"),
    include_str!("sql/overview_events.sql"),
];

pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // SQLite's default page cache (2 MiB): these connections (accounts,
    // saved definitions, checkpoints) read small tables; the writer and
    // the read pool set their own (`[store]`), so the collector's memory
    // stays bounded whatever the store's size.
    conn.pragma_update(None, "cache_size", -2048)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (version, sql) in (0i64..).zip(MIGRATIONS).skip(applied as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
    Ok(())
}

