//! What a move from another backend (`waymark migrate`) writes into
//! ClickHouse beside the store's own writer: events as they were stored
//! (a page per insert, as new versions, so a page copied twice still
//! counts once under `FINAL`: see `schema`), the cookieless salts of the
//! days still in use, and where the copy has got to.
//!
//! The marker (`migration_progress`, one row per copied table, the latest
//! version winning) is written after each page's insert: a copy stopped
//! between the two writes that page again, which the events' keys absorb.
//! It is the move's own table, made when a move starts, not part of the
//! store's schema (`schema` does not number it; the collector never reads it).

use super::client::{Client, ClientError, Connection, lit};
use super::rows::{EventWrite, LIVE_SESSIONS, Versions};
use super::schema::{self, SchemaError};
use crate::clock::DAY_MS;
use crate::event::StoredEvent;
use crate::store::PerDay;

const MARKER_TABLE: &str = "CREATE TABLE IF NOT EXISTS migration_progress (
    name String, after_site String, after_id String, copied UInt64, version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY name";

/// How far the copy of one table has got: `copied` rows, the last one's key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    pub after_site: String,
    pub after_id: String,
    pub copied: u64,
}

#[derive(serde::Serialize)]
struct MarkRow<'a> {
    name: &'a str,
    #[serde(flatten)]
    mark: &'a Mark,
    version: u64,
}

#[derive(serde::Deserialize)]
struct Count {
    n: u64,
}

#[derive(serde::Deserialize)]
struct DayRow {
    site: String,
    day: i64,
    n: u64,
}

pub struct ClickhouseImport {
    client: Client,
    versions: Versions,
}

impl ClickhouseImport {
    /// Connects, migrates the store's schema (as a collector's start does)
    /// and makes the marker's table.
    pub async fn open(connection: Connection) -> Result<ClickhouseImport, SchemaError> {
        let client = Client::new(connection);
        schema::migrate(&client).await?;
        client.execute(MARKER_TABLE).await?;
        Ok(ClickhouseImport { client, versions: Versions::default() })
    }

    pub fn connection(&self) -> &Connection {
        self.client.connection()
    }

    /// Where the copy of `table` stopped, if it started.
    pub async fn mark(&self, table: &str) -> Result<Option<Mark>, ClientError> {
        let sql = format!("SELECT after_site, after_id, copied FROM migration_progress FINAL WHERE name = {}", lit(table));
        Ok(self.client.rows(&sql).await?.into_iter().next())
    }

    pub async fn set_mark(&mut self, table: &str, mark: &Mark) -> Result<(), ClientError> {
        self.client.insert("migration_progress", &[MarkRow { name: table, mark, version: self.versions.next() }]).await
    }

    /// Events, stored, counted once each.
    pub async fn event_count(&self) -> Result<u64, ClientError> {
        let rows: Vec<Count> = self.client.rows("SELECT count() AS n FROM events FINAL").await?;
        Ok(rows.first().map_or(0, |c| c.n))
    }

    /// Writes `events` as they are, sessions ids included, in one insert.
    pub async fn insert_events(&mut self, events: &[StoredEvent]) -> Result<(), ClientError> {
        let versions = &mut self.versions;
        let rows: Vec<EventWrite> = events.iter().map(|event| EventWrite { event, version: versions.next() }).collect();
        let links = crate::identity::links_of(events);
        self.client.insert("identity_links", &super::identity::link_rows(&links)).await?;
        self.client.insert("events", &rows).await
    }

    /// Keeps `salt` as the salt of `day`, unless the day has one: true
    /// when it was written.
    pub async fn keep_salt(&self, day: i64, salt: &[u8; 32]) -> Result<bool, ClientError> {
        let rows: Vec<Count> = self.client.rows(&format!("SELECT count() AS n FROM salts WHERE day = {day}")).await?;
        if rows.first().is_some_and(|c| c.n > 0) {
            return Ok(false);
        }
        let hex: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        self.client.execute(&format!("INSERT INTO salts (day, secret) VALUES ({day}, {})", lit(&hex))).await?;
        Ok(true)
    }

    /// Events per site and UTC day of their time.
    pub async fn events_per_day(&self) -> Result<PerDay, ClientError> {
        self.per_day(&format!("SELECT site, intDiv(ts, {DAY_MS}) AS day, count() AS n FROM events FINAL GROUP BY site, day")).await
    }

    /// Live sessions per site and UTC day of their start.
    pub async fn sessions_per_day(&self) -> Result<PerDay, ClientError> {
        self.per_day(&format!("SELECT site, intDiv(start_ts, {DAY_MS}) AS day, count() AS n FROM {LIVE_SESSIONS} GROUP BY site, day"))
            .await
    }

    async fn per_day(&self, sql: &str) -> Result<PerDay, ClientError> {
        let rows: Vec<DayRow> = self.client.rows(sql).await?;
        Ok(rows.into_iter().map(|r| ((r.site, r.day), r.n)).collect())
    }
}
