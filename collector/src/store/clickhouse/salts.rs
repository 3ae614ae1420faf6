//! Cookieless salts on ClickHouse, by the policy of `store::sqlite::salts`:
//! one random secret per UTC day, kept for two days, then deleted (a
//! mutation, waited for); a backfilled older day gets a salt of its own.
//! Several collectors share the salts through the store: each day's is
//! made a day ahead (with today's), so collectors do not race to make it
//! at midnight; should two make one at once all the same (a database's
//! first day), every reader takes the smallest, so all agree from then on.

use super::client::lit;
use super::db::Db;
use crate::store::{DaySalts, StoreError};

#[derive(serde::Deserialize)]
struct Secret {
    secret: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes: Option<Vec<u8>> = (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect();
    bytes?.try_into().ok()
}

fn secret(db: &Db, day: i64) -> Result<Option<[u8; 32]>, StoreError> {
    let rows: Vec<Secret> = db.rows(&format!("SELECT secret FROM salts WHERE day = {day} ORDER BY secret LIMIT 1"))?;
    Ok(rows.first().and_then(|r| unhex(&r.secret)))
}

/// The salts of `day`, creating its salt if missing; asking for today's
/// deletes every salt older than yesterday.
pub(super) fn salts(db: &Db, today: i64, day: i64) -> Result<DaySalts, StoreError> {
    let day = day.min(today);
    let salt = match secret(db, day)? {
        Some(salt) => salt,
        None => {
            let mut fresh = [0u8; 32];
            getrandom::fill(&mut fresh).expect("the operating system's random source");
            db.execute(&format!("INSERT INTO salts (day, secret) VALUES ({day}, {})", lit(&hex(&fresh))))?;
            secret(db, day)?.unwrap_or(fresh)
        }
    };
    let old = format!("day < {}", today - 1);
    if day == today && db.count(&format!("SELECT count() AS n FROM salts WHERE {old}"))? > 0 {
        db.delete("salts", &old)?;
    }
    if day == today && secret(db, today + 1)?.is_none() {
        // Tomorrow's salt made a day early: at midnight every collector
        // reads the same one, and none races another to make it.
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).expect("the operating system's random source");
        db.execute(&format!("INSERT INTO salts (day, secret) VALUES ({}, {})", today + 1, lit(&hex(&fresh))))?;
    }
    Ok(DaySalts { day, salt, day_before: secret(db, day - 1)? })
}
