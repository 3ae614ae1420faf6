//! What a move to another backend (`waymark migrate`) reads of a SQLite
//! store: its events in pages of `(site, id)` order (so a page's last key
//! is where the next one starts, after a restart too), its bot counts,
//! audit log and recent salts, and the per-day counts the copy is checked
//! against. It reads through a read-only connection and never creates the
//! file: a missing store is an error, not an empty one.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::connection::{migrate, open_connection};
use super::lifecycle;
use super::rows::{EVENT_COLUMNS, event_from_row};
use crate::clock::DAY_MS;
use crate::event::StoredEvent;
use crate::store::lifecycle::AuditRecord;
use crate::store::{BotHit, PerDay, StoreError};

/// Where a page of events starts: after this `(site, id)`.
pub type EventKey = (String, String);

pub struct SqliteSource {
    path: PathBuf,
    conn: Connection,
}

impl SqliteSource {
    /// Whether `data_dir` holds a store.
    pub fn is_in(data_dir: &Path) -> bool {
        data_dir.join("waymark.db").is_file()
    }

    /// Opens `waymark.db` in `data_dir`, bringing an older file to the
    /// current schema first. `None` when there is no such file.
    pub fn open(data_dir: &Path) -> Result<Option<SqliteSource>, StoreError> {
        if !SqliteSource::is_in(data_dir) {
            return Ok(None);
        }
        let path = data_dir.join("waymark.db");
        migrate(&mut open_connection(&path)?)?;
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Some(SqliteSource { path, conn }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn event_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// At most `limit` events after `after` in `(site, id)` order (from the
    /// first with `None`), read through the `(site, id)` index.
    pub fn events_after(&self, after: Option<&EventKey>, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let (site, id) = after.map_or(("", ""), |(s, i)| (s.as_str(), i.as_str()));
        let mut page = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE (site, id) > (?1, ?2) ORDER BY site, id LIMIT ?3"
        ))?;
        let events = page.query_map(params![site, id, limit as i64], event_from_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(events)
    }

    /// At most `limit` events of `site` before `to_ts` and after `after`
    /// (a time and an id) in (time, id) order, read through the time index.
    pub fn events_before(&self, site: &str, to_ts: i64, after: (i64, &str), limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut page = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE site = ?1 AND ts < ?2 AND (ts, id) > (?3, ?4) ORDER BY ts, id LIMIT ?5"
        ))?;
        let events = page.query_map(params![site, to_ts, after.0, after.1, limit as i64], event_from_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(events)
    }

    /// Every site's bot counts.
    pub fn bot_hits(&self) -> Result<Vec<BotHit>, StoreError> {
        let mut all = self.conn.prepare("SELECT site, day, bot, hits FROM bot_hits ORDER BY site, day, bot")?;
        let hits = all
            .query_map([], |r| Ok(BotHit { site: r.get(0)?, day: r.get(1)?, bot: r.get(2)?, hits: r.get(3)? }))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(hits)
    }

    /// The whole audit log, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(lifecycle::audit(&self.conn, None)?)
    }

    /// The salts of `day` and later (UTC day numbers), by day.
    pub fn salts_since(&self, day: i64) -> Result<Vec<(i64, [u8; 32])>, StoreError> {
        let mut recent = self.conn.prepare("SELECT day, secret FROM salts WHERE day >= ?1 ORDER BY day")?;
        let rows: Vec<(i64, Vec<u8>)> = recent.query_map([day], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter_map(|(day, secret)| Some((day, secret.try_into().ok()?))).collect())
    }

    /// Events per site and UTC day of their time.
    pub fn events_per_day(&self) -> Result<PerDay, StoreError> {
        self.per_day(&format!("SELECT site, ts / {DAY_MS}, count(*) FROM events GROUP BY 1, 2"))
    }

    /// Sessions per site and UTC day of their start.
    pub fn sessions_per_day(&self) -> Result<PerDay, StoreError> {
        self.per_day(&format!("SELECT site, start_ts / {DAY_MS}, count(*) FROM sessions GROUP BY 1, 2"))
    }

    fn per_day(&self, sql: &str) -> Result<PerDay, StoreError> {
        let mut counts = self.conn.prepare(sql)?;
        let rows = counts.query_map([], |r| Ok(((r.get::<_, String>(0)?, r.get::<_, i64>(1)?), r.get::<_, i64>(2)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::conformance::{T0, pageview};
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn pages_in_key_order_cover_every_event_once_and_a_missing_store_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SqliteSource::open(dir.path()).unwrap().is_none());
        assert!(!dir.path().join("waymark.db").exists(), "looking does not create a store");
        let store = SqliteStore::open(dir.path()).unwrap();
        store.append((0..25).map(|i| pageview(i, &format!("v{}", i % 4), T0 + i as i64 * 1000)).collect()).await.unwrap();
        store.close().await;

        let source = SqliteSource::open(dir.path()).unwrap().unwrap();
        let (mut after, mut seen) = (None, Vec::new());
        loop {
            let page = source.events_after(after.as_ref(), 10).unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.site.clone(), last.id.clone()));
            seen.extend(page.into_iter().map(|e| e.id));
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!((seen.len(), seen == sorted), (25, true));
        assert_eq!(source.event_count().unwrap(), 25);
        assert_eq!(source.events_per_day().unwrap().values().sum::<u64>(), 25);
    }
}
