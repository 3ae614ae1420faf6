//! Cookieless salts: one random secret per UTC day, kept for two days
//! (yesterday's lets a visit span midnight) and then deleted, so nobody can
//! recompute an old day's visitor keys.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::DaySalts;

/// Today's and yesterday's salts, creating today's and deleting older ones.
pub(super) fn rotate_salts(conn: &mut Connection, day: i64) -> rusqlite::Result<DaySalts> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM salts WHERE day < ?1", [day - 1])?;
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).expect("the operating system's random source");
    tx.execute("INSERT OR IGNORE INTO salts (day, secret) VALUES (?1, ?2)", params![day, fresh.as_slice()])?;
    let secret = |d: i64| -> rusqlite::Result<Option<[u8; 32]>> {
        let blob: Option<Vec<u8>> = tx.query_row("SELECT secret FROM salts WHERE day = ?1", [d], |r| r.get(0)).optional()?;
        Ok(blob.and_then(|b| b.try_into().ok()))
    };
    let today = secret(day)?.expect("inserted above");
    let yesterday = secret(day - 1)?;
    tx.commit()?;
    Ok(DaySalts { day, today, yesterday })
}

