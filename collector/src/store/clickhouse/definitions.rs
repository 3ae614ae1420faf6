//! [`Definitions`] on ClickHouse: the `definitions` table of the store's
//! database, through a client and runtime of their own, as the accounts
//! are (see `clickhouse::accounts`). A change is a new version, a removal a
//! tombstone; reads go through `FINAL`.

use super::client::{Connection, lit};
use super::db::Db;
use super::rows::Versions;
use super::{Client, schema};
use crate::store::StoreError;
use crate::store::definitions::{Definition, Definitions, Kind};

pub struct ClickhouseDefinitions {
    db: Db,
    versions: std::sync::Mutex<Versions>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Row {
    site: String,
    kind: String,
    id: String,
    name: String,
    body: String,
    updated_ms: i64,
    #[serde(skip_deserializing)]
    version: u64,
    #[serde(skip_deserializing)]
    deleted: u8,
}

const LIVE: &str = "definitions FINAL WHERE deleted = 0";

impl ClickhouseDefinitions {
    /// Connects and migrates. Blocks: call it off the async runtime's threads.
    pub fn open(connection: Connection) -> Result<ClickhouseDefinitions, StoreError> {
        let db = Db::new(Client::new(connection)).map_err(|e| StoreError::Backend(format!("the definitions' runtime: {e}")))?;
        db.block_on(schema::migrate(db.client())).map_err(|e| match e {
            schema::SchemaError::Client(c) => StoreError::from(c),
            newer => StoreError::Backend(newer.to_string()),
        })?;
        Ok(ClickhouseDefinitions { db, versions: std::sync::Mutex::new(Versions::default()) })
    }

    fn write(&self, d: &Definition, deleted: bool) -> Result<(), StoreError> {
        let version = self.versions.lock().unwrap_or_else(|p| p.into_inner()).next();
        let row = Row {
            site: d.site.clone(),
            kind: d.kind.name().to_owned(),
            id: d.id.clone(),
            name: d.name.clone(),
            body: d.body.clone(),
            updated_ms: d.updated_ms,
            version,
            deleted: u8::from(deleted),
        };
        self.db.insert("definitions", &[row])
    }

    fn select(&self, site: &str, kind: Kind, more: &str) -> Result<Vec<Definition>, StoreError> {
        let rows: Vec<Row> = self.db.rows(&format!(
            "SELECT site, kind, id, name, body, updated_ms FROM {LIVE} AND site = {} AND kind = {}{more} ORDER BY name, id",
            lit(site),
            lit(kind.name())
        ))?;
        Ok(rows.into_iter().map(|r| Definition { site: r.site, kind, id: r.id, name: r.name, body: r.body, updated_ms: r.updated_ms }).collect())
    }
}

impl Definitions for ClickhouseDefinitions {
    fn list(&self, site: &str, kind: Kind) -> Result<Vec<Definition>, StoreError> {
        self.select(site, kind, "")
    }

    fn get(&self, site: &str, kind: Kind, id: &str) -> Result<Option<Definition>, StoreError> {
        Ok(self.select(site, kind, &format!(" AND id = {}", lit(id)))?.into_iter().next())
    }

    fn put(&self, definition: &Definition) -> Result<(), StoreError> {
        self.write(definition, false)
    }

    fn delete(&self, site: &str, kind: Kind, id: &str) -> Result<bool, StoreError> {
        let Some(old) = self.get(site, kind, id)? else { return Ok(false) };
        self.write(&old, true)?;
        Ok(true)
    }
}
