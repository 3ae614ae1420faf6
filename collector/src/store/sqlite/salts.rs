//! Cookieless salts: one random secret per UTC day, kept for two days
//! (yesterday's lets a visit span midnight) and then deleted, so nobody can
//! recompute an old day's visitor keys. A backfill of an older day makes
//! that day a salt of its own, deleted when the next day begins.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::DaySalts;

/// The salts of `day`, creating its salt if missing; creating today's
/// deletes every salt older than yesterday.
pub(super) fn salts(conn: &mut Connection, today: i64, day: i64) -> rusqlite::Result<DaySalts> {
    let day = day.min(today);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).expect("the operating system's random source");
    let created = tx.execute("INSERT OR IGNORE INTO salts (day, secret) VALUES (?1, ?2)", params![day, fresh.as_slice()])? > 0;
    if created && day == today {
        tx.execute("DELETE FROM salts WHERE day < ?1", [today - 1])?;
    }
    let secret = |d: i64| -> rusqlite::Result<Option<[u8; 32]>> {
        let blob: Option<Vec<u8>> = tx.query_row("SELECT secret FROM salts WHERE day = ?1", [d], |r| r.get(0)).optional()?;
        Ok(blob.and_then(|b| b.try_into().ok()))
    };
    let salt = secret(day)?.expect("inserted above");
    let day_before = secret(day - 1)?;
    tx.commit()?;
    Ok(DaySalts { day, salt, day_before })
}

